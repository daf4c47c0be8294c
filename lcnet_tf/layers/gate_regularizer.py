import math

import keras
import numpy as np
from keras import ops

# Points of the tabulated prior CDF (piecewise linear in between).
_CDF_POINTS = 1025


def _beta_cdf_table(alpha, beta):
    """The Beta(alpha, beta) CDF on a uniform grid of [0, 1]."""
    grid = np.linspace(0.0, 1.0, _CDF_POINTS)
    if keras.backend.backend() == "jax":
        import jax
        from jax.scipy.special import betainc

        # A constant, even when first needed inside a traced step.
        with jax.ensure_compile_time_eval():
            table = np.array(betainc(alpha, beta, grid), dtype=np.float64)
    else:
        import tensorflow as tf

        # Eagerly, even when the gate is first called inside a traced
        # function: the table is a constant.
        with tf.init_scope():
            table = tf.math.betainc(alpha, beta, grid).numpy()
    table[0], table[-1] = 0.0, 1.0
    return table.astype(np.float32)


def _check_positive(name, value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not math.isfinite(number) or number <= 0:
        raise ValueError(
            f"`{name}` must be a finite number > 0. Received: {name}={value!r}"
        )
    return number


@keras.saving.register_keras_serializable(package="lcnet_tf")
class GateRegularizer:
    """Training terms that keep a gate conditional on its input.

    A mean-FLOPs budget is met as well by a fixed sub-network as by
    per-image routing; with short training gates saturate at always-on
    or always-off. Two terms, each optional, counter that per gate unit:

    - **Keep-rate bounds** (as DynConv's and DGNet's per-layer bounds):
      the batch keep rate `r` of every unit is pushed into `[low, high]`
      by `bounds_weight * mean(relu(low_t - r)^2 + relu(r - high_t)^2)`.
      The bounds start at `[0, 1]` (no constraint) and reach
      `[low, high]` linearly as training progress goes from 0 to
      `anneal`, so gates first learn what matters, then learn to share.
    - **Batch-shaping** (Bejnordi et al., ICLR 2020): the Cramer-von
      Mises distance between each unit's batch of keep-probabilities and
      a `Beta(alpha, beta)` prior, `mean_i (F(p_(i)) - (2i - 1) / 2n)^2`
      over the sorted batch, weighted `shaping_weight * (1 - progress)`:
      strongest at the start, gone at the end.

    It also holds the schedule of the gate's exploration noise: with
    `noise_anneal > 0` the noise fades linearly to 0 as progress goes
    from 0 to `noise_anneal`, so the last part of training sees the
    deterministic decisions that inference makes.

    Progress is a number in [0, 1] held by the gate, set during `fit` by
    `lcnet_tf.training.GateSchedule`; without it the bounds are at their
    final values, batch-shaping at full weight and the noise gone (when
    it anneals).

    Args:
        low: float in [0, 1). Final lower bound of a unit's keep rate.
        high: float in (low, 1]. Final upper bound.
        bounds_weight: float >= 0. Weight of the bounds term (0: off).
        alpha: float > 0. First shape parameter of the Beta prior.
        beta: float > 0. Second shape parameter of the Beta prior.
        shaping_weight: float >= 0. Weight of batch-shaping (0: off).
        anneal: float in (0, 1]. Share of training over which the
            bounds tighten.
        noise_anneal: float in [0, 1]. Share of training over which the
            exploration noise fades to 0 (0: constant noise).
        channel_gates: bool. Also bound and shape channel gates (False:
            only block gates must decide per image; channel gates are
            free to become a fixed pruning, and only their noise is
            scheduled).

    Example:

    ```python
    regularizer = GateRegularizer(low=0.1, high=0.9, bounds_weight=2.0)
    model = cifar_resnet(20, gating="lc", gate_regularizer=regularizer)
    ```
    """

    def __init__(
        self,
        low=0.1,
        high=0.9,
        bounds_weight=0.0,
        alpha=0.6,
        beta=0.4,
        shaping_weight=0.0,
        anneal=0.5,
        noise_anneal=0.0,
        channel_gates=True,
    ):
        low, high = float(low), float(high)
        if not 0.0 <= low < high <= 1.0:
            raise ValueError(
                f"Keep-rate bounds need 0 <= low < high <= 1. Received: "
                f"low={low}, high={high}"
            )
        for name, value in (
            ("bounds_weight", bounds_weight),
            ("shaping_weight", shaping_weight),
        ):
            if not math.isfinite(float(value)) or float(value) < 0:
                raise ValueError(
                    f"`{name}` must be a finite number >= 0. Received: "
                    f"{name}={value!r}"
                )
        anneal = float(anneal)
        if not 0.0 < anneal <= 1.0:
            raise ValueError(
                f"`anneal` is a share of training in (0, 1]. Received: "
                f"anneal={anneal}"
            )
        noise_anneal = float(noise_anneal)
        if not 0.0 <= noise_anneal <= 1.0:
            raise ValueError(
                f"`noise_anneal` is a share of training in [0, 1]. "
                f"Received: noise_anneal={noise_anneal}"
            )
        self.low, self.high = low, high
        self.noise_anneal = noise_anneal
        self.channel_gates = bool(channel_gates)
        self.bounds_weight = float(bounds_weight)
        self.alpha = _check_positive("alpha", alpha)
        self.beta = _check_positive("beta", beta)
        self.shaping_weight = float(shaping_weight)
        self.anneal = anneal
        self._table = None

    def bounds_at(self, progress):
        """The `(low, high)` bounds at a training progress in [0, 1]."""
        t = ops.minimum(progress / self.anneal, 1.0)
        return self.low * t, 1.0 - (1.0 - self.high) * t

    def noise_factor(self, progress):
        """The share of the exploration noise left at a progress."""
        progress = ops.convert_to_tensor(progress, "float32")
        if not self.noise_anneal:
            return ops.ones_like(progress)
        return ops.relu(1.0 - progress / self.noise_anneal)

    def prior_cdf(self, values):
        """The Beta prior's CDF at `values` (tabulated, differentiable)."""
        if self._table is None:
            self._table = _beta_cdf_table(self.alpha, self.beta)
        table = ops.convert_to_tensor(self._table, dtype=values.dtype)
        scaled = ops.clip(values, 0.0, 1.0) * (_CDF_POINTS - 1)
        index = ops.clip(ops.floor(scaled), 0, _CDF_POINTS - 2)
        frac = scaled - index
        index = ops.cast(index, "int32")
        left = ops.take(table, index)
        right = ops.take(table, index + 1)
        return left + frac * (right - left)

    def __call__(self, gate, prob, progress):
        """The regularization loss of one gate head for one batch.

        Args:
            gate: `(batch, units)` straight-through 0/1 decisions.
            prob: `(batch, units)` keep-probabilities.
            progress: scalar tensor in [0, 1].

        Returns:
            A scalar tensor.
        """
        # In float32 under mixed precision: batch means and CDF
        # differences are small.
        gate = ops.cast(gate, "float32")
        prob = ops.cast(prob, "float32")
        progress = ops.cast(progress, "float32")
        loss = ops.zeros((), prob.dtype)
        if self.bounds_weight:
            rate = ops.mean(gate, axis=0)
            low, high = self.bounds_at(progress)
            excess = ops.square(ops.relu(low - rate)) + ops.square(
                ops.relu(rate - high)
            )
            loss = loss + self.bounds_weight * ops.mean(excess)
        if self.shaping_weight:
            ordered = ops.sort(ops.transpose(prob), axis=-1)
            n = ops.cast(ops.shape(prob)[0], prob.dtype)
            ranks = ops.cast(ops.arange(ops.shape(prob)[0]), prob.dtype)
            empirical = (2.0 * ranks + 1.0) / (2.0 * n)
            distance = ops.mean(
                ops.square(self.prior_cdf(ordered) - empirical[None, :])
            )
            weight = self.shaping_weight * (1.0 - progress)
            loss = loss + weight * distance
        return loss

    def get_config(self):
        return {
            "low": self.low,
            "high": self.high,
            "bounds_weight": self.bounds_weight,
            "alpha": self.alpha,
            "beta": self.beta,
            "shaping_weight": self.shaping_weight,
            "anneal": self.anneal,
            "noise_anneal": self.noise_anneal,
            "channel_gates": self.channel_gates,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
