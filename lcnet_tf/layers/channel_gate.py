import keras
from keras import ops

from lcnet_tf.layers.gate_head import GateHead
from lcnet_tf.layers.gate_head import refuse_fixed_arguments as _refuse


@keras.saving.register_keras_serializable(package="lcnet_tf")
class ChannelGate(GateHead):
    """C-Net gate: decides per image which middle channels of a block run.

    One keep decision and one scale per group of `groups` consecutive
    channels (`groups=1` is the paper's per-channel case), expanded to one
    value per channel. A skipped channel's filter in the block's first
    convolution is not needed, and the next convolution does not read it.

    Args:
        channels: int. Number of gated channels.
        groups: int. Channels per gate; must divide `channels`.
        hidden_units: int or None. Width of the hidden layer.
        scale: str. `"learned"`, `"gate"` or `"none"` (see `GateHead`).
        tau: float in [0, 1]. Decision threshold, adjustable after training.
        noise_std: float >= 0. Logistic exploration noise, training only.
        init_keep_logit: float. Initial keep logit (gates start open).
        seed: int or None. Seed of the exploration noise.
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
        self.channels = channels
        self.groups = groups

    def call(self, inputs, training=None):
        outputs = super().call(inputs, training=training)
        if self.groups == 1:
            return outputs
        return tuple(ops.repeat(t, self.groups, axis=-1) for t in outputs)

    def compute_output_shape(self, input_shape):
        shape = (input_shape[0], self.channels)
        return shape, shape, shape

    def get_config(self):
        config = super().get_config()
        del config["units"]
        config.update({"channels": self.channels, "groups": self.groups})
        return config
