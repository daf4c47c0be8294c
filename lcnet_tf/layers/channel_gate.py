import keras
from keras import ops

from lcnet_tf.layers.gate_head import GateHead
from lcnet_tf.layers.gate_head import refuse_fixed_arguments as _refuse

SELECTIONS = ("free", "nested")


@keras.saving.register_keras_serializable(package="lcnet_tf")
class ChannelGate(GateHead):
    """C-Net gate: decides per image which middle channels of a block run.

    One keep decision and one scale per group of `groups` consecutive
    channels (`groups=1` is the paper's per-channel case), expanded to one
    value per channel. A skipped channel's filter in the block's first
    convolution is not needed, and the next convolution does not read it.

    With `selection="nested"` (DS-Net's dynamic slicing) the groups are
    ordered and an image keeps a prefix of them: group `k` runs only if
    groups `0..k` all pass the threshold (the running product of the
    hard decisions, straight-through as before). The kept filters are
    then a contiguous slice of constant weights, which an export can run
    as an ordinary, narrower convolution: free choices only save FLOPs,
    prefixes save time. Keep-probabilities become running products too.

    Args:
        channels: int. Number of gated channels.
        groups: int. Channels per gate; must divide `channels`.
        hidden_units: int or None. Width of the hidden layer.
        scale: str. `"learned"`, `"gate"` or `"none"` (see `GateHead`).
        tau: float in [0, 1]. Decision threshold, adjustable after training.
        noise_std: float >= 0. Logistic exploration noise, training only.
        init_keep_logit: float. Initial keep logit (gates start open).
        seed: int or None. Seed of the exploration noise.
        selection: str. `"free"` (any subset of groups, the paper's) or
            `"nested"` (a prefix of the ordered groups).
        regularizer: `GateRegularizer` or None (see `GateHead`).
        **kwargs: base layer arguments.

    Returns:
        `(gate, scale, prob)`, each shaped `(batch, channels)`.

    Example:

    ```python
    gate, scale, prob = ChannelGate(32, groups=4)(np.random.rand(2, 8, 8, 16))
    ```
    """

    def __init__(
        self,
        channels,
        groups=1,
        hidden_units=None,
        scale="learned",
        tau=0.5,
        noise_std=0.0,
        init_keep_logit=3.0,
        seed=None,
        selection="free",
        regularizer=None,
        **kwargs,
    ):
        _refuse(kwargs, ("units",), "ChannelGate sets it to channels/groups")
        channels, groups = int(channels), int(groups)
        if groups < 1 or channels < 1 or channels % groups:
            raise ValueError(
                f"`groups` must be a positive divisor of `channels`. "
                f"Received: channels={channels}, groups={groups}"
            )
        super().__init__(
            units=channels // groups,
            hidden_units=hidden_units,
            scale=scale,
            tau=tau,
            noise_std=noise_std,
            init_keep_logit=init_keep_logit,
            seed=seed,
            regularizer=regularizer,
            **kwargs,
        )
        if selection not in SELECTIONS:
            raise ValueError(
                f"`selection` must be one of {SELECTIONS}. Received: "
                f"selection={selection!r}"
            )
        self.channels = channels
        self.groups = groups
        self.selection = selection

    def _regularized(self):
        return super()._regularized() and self.regularizer.channel_gates

    def call(self, inputs, training=None):
        outputs = super().call(inputs, training=training)
        if self.selection == "nested":
            gate, scale, prob = outputs
            # A product of straight-through 0/1 values is exactly the 0/1
            # prefix forward, and passes gradients to every factor.
            gate = ops.cumprod(gate, axis=-1)
            prob = ops.cumprod(prob, axis=-1)
            if self.scale == "gate":
                scale = prob
            outputs = gate, scale, prob
        if self.groups == 1:
            return outputs
        return tuple(ops.repeat(t, self.groups, axis=-1) for t in outputs)

    def compute_output_shape(self, input_shape):
        shape = (input_shape[0], self.channels)
        return shape, shape, shape

    def get_config(self):
        config = super().get_config()
        del config["units"]
        config.update(
            {
                "channels": self.channels,
                "groups": self.groups,
                "selection": self.selection,
            }
        )
        return config
