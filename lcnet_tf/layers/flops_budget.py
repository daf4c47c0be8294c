import keras
from keras import ops

from lcnet_tf.losses import budget_loss
from lcnet_tf.losses import check_budget_target
from lcnet_tf.losses import check_budget_weight


def _global_mean(value):
    """Mean of a per-replica scalar over all replicas (equal batches).

    Differentiable: the all-reduce passes gradients back to every replica,
    so the summed replica gradients are those of the global-batch loss.
    """
    if keras.backend.backend() != "tensorflow":
        return value
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return value
    return context.all_reduce(tf.distribute.ReduceOp.MEAN, value)


@keras.saving.register_keras_serializable(package="lcnet_tf")
class FlopsBudget(keras.layers.Layer):
    """Top layer of a gated network: FLOPs budget loss and gate metrics.

    Passes the logits through unchanged. From the gated blocks' per-image
    FLOPs it forms the FLOPs ratio against the static network and, while
    training, adds `weight * (mean(ratio) - target) ** 2` with `add_loss`
    (as Keras regularizers do), so a plain `compile(loss=...)` + `fit`
    trains toward the budget. It also tracks metrics that show up in the
    `fit` / `evaluate` logs: `flops_ratio` and one `keep_<block>` per gated
    block (the fraction of that block's body that ran); not on the JAX
    backend, where Keras cannot update a layer's metrics in `call`.

    With `loss="rate"` (the ConvNet-AIG baseline) the loss is instead
    ConvNet-AIG's target-rate loss, `weight * mean_l (r_l - t) ** 2` over
    gated blocks `l`, where `r_l` is the fraction of the batch that runs
    block `l` and `t` is the one execution rate at which the network
    costs `target` of the static FLOPs, so both losses aim at the same
    mean FLOPs.

    Target and weight live in non-trainable variables so they can change
    between epochs without recompiling (`lcnet_tf.models.set_budget`).

    Args:
        full_flops: int. FLOPs of the static network (the denominator).
        fixed_flops: int. FLOPs of the ungated layers (stem, head, blocks
            that always run ungated).
        block_names: list of str. Names of the gated blocks, in the order
            of the `flops` and `decisions` inputs.
        target: float in (0, 1]. Wanted mean FLOPs ratio.
        weight: float >= 0. Weight of the budget term; 0 disables it.
        loss: str. `"flops"` (LC-Net's budget on the mean FLOPs ratio) or
            `"rate"` (ConvNet-AIG's per-block target-rate loss).
        skipped_flops: int. With `loss="rate"`: FLOPs of the network when
            every gated block is skipped (gate heads included).
        gated_body_flops: int. With `loss="rate"`: FLOPs of the bodies of
            the gated blocks, all run.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: `[logits, flops, decisions]` where `flops` and
            `decisions` are lists with one tensor per gated block.

    Returns:
        The logits.
    """

    def __init__(
        self,
        full_flops,
        fixed_flops,
        block_names,
        target=0.5,
        weight=2.0,
        loss="flops",
        skipped_flops=None,
        gated_body_flops=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if loss not in ("flops", "rate"):
            raise ValueError(
                f"`loss` must be 'flops' or 'rate'. Received: loss={loss!r}"
            )
        if loss == "rate" and not (
            skipped_flops is not None and gated_body_flops
        ):
            raise ValueError(
                "`loss='rate'` needs `skipped_flops` and a positive "
                "`gated_body_flops` to turn the FLOPs target into an "
                f"execution rate. Received: skipped_flops={skipped_flops}, "
                f"gated_body_flops={gated_body_flops}"
            )
        self.loss = loss
        self.skipped_flops = skipped_flops
        self.gated_body_flops = gated_body_flops
        if int(full_flops) <= 0:
            raise ValueError(
                f"`full_flops` must be > 0. Received: {full_flops}"
            )
        self.full_flops = int(full_flops)
        self.fixed_flops = int(fixed_flops)
        self.block_names = list(block_names)
        self._initial_target = check_budget_target(target)
        self._initial_weight = check_budget_weight(weight)
        # Metrics updated inside `call` break JAX's stateless training
        # step (keras-team/keras#21639), so on JAX the logs lack them;
        # `lcnet_tf.flops.flops_per_image` gives the same figures there.
        self.flops_ratio_metric = None
        self.keep_metrics = []
        if keras.backend.backend() != "jax":
            self.flops_ratio_metric = keras.metrics.Mean(name="flops_ratio")
            self.keep_metrics = [
                keras.metrics.Mean(name=f"keep_{name}")
                for name in self.block_names
            ]

    def build(self, input_shape):
        self.target_variable = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(self._initial_target),
            trainable=False,
            name="target",
        )
        self.weight_variable = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(self._initial_weight),
            trainable=False,
            name="weight",
        )

    @property
    def target(self):
        if not self.built:
            return self._initial_target
        return float(ops.convert_to_numpy(self.target_variable))

    @target.setter
    def target(self, value):
        self._initial_target = check_budget_target(value)
        if self.built:
            self.target_variable.assign(self._initial_target)

    @property
    def weight(self):
        if not self.built:
            return self._initial_weight
        return float(ops.convert_to_numpy(self.weight_variable))

    @weight.setter
    def weight(self, value):
        self._initial_weight = check_budget_weight(value)
        if self.built:
            self.weight_variable.assign(self._initial_weight)

    def rate_target(self):
        """Execution rate per gated block that meets the FLOPs target."""
        rate = (
            self.target_variable * self.full_flops - self.skipped_flops
        ) / self.gated_body_flops
        return ops.clip(rate, 0.0, 1.0)

    def _rate_loss(self, decisions):
        target = ops.cast(self.rate_target(), decisions[0].dtype)
        terms = [
            ops.square(_global_mean(ops.mean(decision[:, 0])) - target)
            for decision in decisions
        ]
        weight = ops.cast(self.weight_variable, target.dtype)
        return weight * ops.mean(ops.stack(terms))

    def call(self, inputs, training=None):
        logits, flops, decisions = inputs
        if len(flops) != len(self.block_names) or len(decisions) != len(
            self.block_names
        ):
            raise ValueError(
                f"FlopsBudget expects one `flops` and one `decisions` tensor "
                f"per gated block ({len(self.block_names)}). Received "
                f"{len(flops)} and {len(decisions)}."
            )
        total = self.fixed_flops + ops.sum(ops.stack(flops, axis=-1), -1)
        ratio = total / self.full_flops
        if training and self.loss == "rate":
            self.add_loss(self._rate_loss(decisions))
        elif training:
            # The budget constrains the mean over the global batch: under
            # tf.distribute each replica sees a slice of it.
            mean_ratio = _global_mean(ops.mean(ratio))
            self.add_loss(
                budget_loss(
                    mean_ratio, self.target_variable, self.weight_variable
                )
            )
        if self.flops_ratio_metric is not None:
            self.flops_ratio_metric.update_state(ratio)
        for metric, decision in zip(self.keep_metrics, decisions):
            metric.update_state(decision[:, 0] * decision[:, 1])
        return logits

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "full_flops": self.full_flops,
                "fixed_flops": self.fixed_flops,
                "block_names": self.block_names,
                "target": self.target,
                "weight": self.weight,
                "loss": self.loss,
                "skipped_flops": self.skipped_flops,
                "gated_body_flops": self.gated_body_flops,
            }
        )
        return config
