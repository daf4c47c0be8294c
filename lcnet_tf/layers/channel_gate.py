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

    In a prefix the first group gates all the others, so one closed
    decision shuts the whole block, also a block that changes shape,
    which block gates leave running. `min_groups` sets a narrowest
    width: the first `min_groups` groups run for every image (their
    decisions and probabilities are 1), and removing the block is left
    to the block gate.

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
        min_groups: int. Groups that always run (`selection="nested"`
            only); 0 (the default) lets an image keep none.
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
        min_groups=0,
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
        min_groups = int(min_groups)
        if not 0 <= min_groups <= channels // groups:
            raise ValueError(
                f"`min_groups` must be between 0 and the number of groups "
                f"({channels // groups}). Received: min_groups={min_groups}"
            )
        if min_groups and selection != "nested":
            raise ValueError(
                "`min_groups` sets the narrowest prefix of a nested gate; "
                f"selection={selection!r} has no prefix. Use "
                "selection='nested' or min_groups=0."
            )
        self.channels = channels
        self.groups = groups
        self.selection = selection
        self.min_groups = min_groups

    def _regularized(self):
        return super()._regularized() and self.regularizer.channel_gates

    def call(self, inputs, training=None):
        outputs = super().call(inputs, training=training)
        if self.selection == "nested":
            gate, scale, prob = outputs
            if self.min_groups:
                gate = _open_first(gate, self.min_groups)
                prob = _open_first(prob, self.min_groups)
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
                "min_groups": self.min_groups,
            }
        )
        return config


def _open_first(values, count):
    """`values` with its first `count` columns set to 1."""
    ones = ops.ones_like(values[:, :count])
    return ops.concatenate([ones, values[:, count:]], axis=-1)
