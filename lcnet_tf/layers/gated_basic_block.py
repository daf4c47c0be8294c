import keras
from keras import ops

from lcnet_tf.layers.gated_residual_block import GatedResidualBlock


@keras.saving.register_keras_serializable(package="lcnet_tf")
class GatedBasicBlock(GatedResidualBlock):
    """Basic residual block (two 3x3 convolutions) with L-Net/C-Net gates.

    `F = conv3x3 -> BN -> ReLU -> [channel gate] -> conv3x3 -> BN`, with
    `filters` middle and output channels. A block whose stride or channel
    count changes the shape gets a 1x1 projection shortcut and always runs
    (L-Net cannot skip it; C-Net can still skip its middle channels).

    Args:
        filters: int. Middle and output channels.
        strides: int. 1 or 2, stride of the first convolution.
        gating: str. `"none"`, `"l"` (block skipping), `"c"` (channel
            skipping), `"lc"` (both, channels only inside kept blocks) or
            `"aig"` (ConvNet-AIG block gate, see `AigGate`).
        scale: str. `"learned"`, `"gate"` or `"none"`: how kept outputs
            are scaled.
        tau: float in [0, 1]. Gate threshold, adjustable after training.
        channel_groups: int. Channels per C-Net decision.
        gate_hidden_units: int or None. Hidden width of the gate heads.
        noise_std: float >= 0. Logistic exploration noise, training only.
        seed: int or None. Seed of the exploration noise.
        gate_regularizer: `GateRegularizer` or None. Terms that keep the
            L-Net and C-Net gates conditional while training.
        skip_projection: bool. Whether a block gate may skip this block
            although it changes shape (stride or channels); skipped, it
            runs its projection shortcut alone. Default False: such a
            block always runs, as in ConvNet-AIG.
        channel_min_groups: int. Channel groups that always run in a
            nested channel gate (see `ChannelGate`'s `min_groups`).
        **kwargs: base layer arguments.

    Returns:
        The output feature map for `gating="none"`, else
        `(outputs, flops, decisions)` (see `GatedResidualBlock`).

    Example:

    ```python
    block = GatedBasicBlock(16, gating="lc")
    y, flops, decisions = block(np.random.rand(2, 32, 32, 16))
    ```
    """

    def _build_body(self, input_shape):
        mid_shape = (None,) + self.out_size + (self.filters,)
        self.conv1 = self._conv(self.filters, 3, self.strides, "conv1")
        self.conv1.build(input_shape)
        self.bn1 = self._bn("bn1")
        self.bn1.build(mid_shape)
        self.conv2 = self._conv(self.filters, 3, 1, "conv2")
        self.conv2.build(mid_shape)
        self.bn2 = self._bn("bn2")
        self.bn2.build(mid_shape)

    def _body_layers(self):
        return [self.conv1, self.bn1, self.conv2, self.bn2]

    def _run_body(self, inputs, channel_mask, channel_scale, training):
        x = ops.relu(self.bn1(self.conv1(inputs), training=training))
        if channel_scale is not None:
            x = x * channel_scale
        return self.bn2(self.conv2(x), training=training)

    def body_flops(self, kept):
        h, w = self.out_size
        return 9 * h * w * (self.in_channels * kept + kept * self.filters)
