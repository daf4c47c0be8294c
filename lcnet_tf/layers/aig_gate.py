import keras
from keras import ops

from lcnet_tf.layers.gate_head import GateHead
from lcnet_tf.layers.gate_head import logistic_noise
from lcnet_tf.layers.gate_head import refuse_fixed_arguments as _refuse


@keras.saving.register_keras_serializable(package="lcnet_tf")
class AigGate(GateHead):
    """ConvNet-AIG block gate (Veit & Belongie, ECCV 2018), as a baseline.

    Like `BlockGate` it pools the block input and runs a small MLP, but it
    follows ConvNet-AIG rather than LC-Net:

    - While training, the decision is a straight-through Gumbel-softmax
      sample over the two choices "skip" and "run": hard forward, the
      gradient of the relaxed sample backward. A two-way softmax over
      logits `(l_skip, l_run)` is a sigmoid of `z = l_run - l_skip`, and
      the difference of two Gumbel variables is logistic, so one logit
      plus logistic noise is exactly that sample.
    - At inference the gate runs the block when `sigmoid(z) >= tau`; the
      default `tau=0.5` is ConvNet-AIG's argmax.
    - Kept outputs are not rescaled (scale 1).

    Models built with `gating="aig"` pair it with a per-block
    target-rate loss (see `FlopsBudget`, `loss="rate"`).

    Args:
        hidden_units: int or None. Width of the hidden layer.
        temperature: float > 0. Gumbel-softmax temperature.
        tau: float in [0, 1]. Inference threshold on `sigmoid(z)`.
        init_keep_logit: float. Initial `z` (2.0: gates start mostly open,
            as in ConvNet-AIG's initialisation).
        seed: int or None. Seed of the Gumbel noise.
        **kwargs: base layer arguments.

    Returns:
        `(gate, scale, prob)`, each shaped `(batch, 1)`: the 0/1 decision
        (straight-through), ones, and `sigmoid(z)`.

    Example:

    ```python
    gate, scale, prob = AigGate()(np.random.rand(2, 8, 8, 16))
    ```
    """

    def __init__(
        self,
        hidden_units=None,
        temperature=1.0,
        tau=0.5,
        init_keep_logit=2.0,
        seed=None,
        **kwargs,
    ):
        _refuse(
            kwargs,
            ("units", "scale", "noise_std", "regularizer"),
            "ConvNet-AIG gates have one unit, no scaling, Gumbel noise "
            "(see `temperature`) and their own target-rate loss",
        )
        if not float(temperature) > 0.0:
            raise ValueError(
                f"`temperature` must be > 0. Received: {temperature}"
            )
        super().__init__(
            units=1,
            hidden_units=hidden_units,
            scale="none",
            tau=tau,
            noise_std=0.0,
            init_keep_logit=init_keep_logit,
            seed=seed,
            **kwargs,
        )
        self.temperature = float(temperature)

    def call(self, inputs, training=None):
        hidden = self.hidden(ops.mean(inputs, axis=(1, 2)))
        logits = self.keep_logits(hidden)
        prob = ops.sigmoid(logits)
        if training and self.sampling:
            noisy = logits + logistic_noise(logits, self.seed_generator)
            soft = ops.sigmoid(noisy / self.temperature)
            hard = ops.cast(ops.greater_equal(noisy, 0.0), soft.dtype)
        else:
            soft = prob
            threshold = ops.cast(self.threshold, prob.dtype)
            hard = ops.cast(ops.greater_equal(prob, threshold), prob.dtype)
        gate = hard + (soft - ops.stop_gradient(soft))
        return gate, ops.ones_like(prob), prob

    def get_config(self):
        config = super().get_config()
        for key in ("units", "scale", "noise_std", "regularizer"):
            del config[key]
        config["temperature"] = self.temperature
        return config
