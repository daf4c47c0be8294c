import keras
from keras import ops

from lcnet_tf.layers.gated_residual_block import GatedResidualBlock


@keras.saving.register_keras_serializable(package="lcnet_tf")
class GatedBottleneckBlock(GatedResidualBlock):
    """Bottleneck residual block (1x1, 3x3, 1x1) with L-Net/C-Net gates.

    `F = conv1x1 -> BN -> ReLU -> [gate] -> conv3x3 (stride) -> BN -> ReLU
    -> [gate] -> conv1x1 -> BN` with `filters` middle channels and
    `4 * filters` output channels (the stride sits on the 3x3 convolution,
    as in ResNet v1.5). C-Net keeps the same middle channels in both the
    1x1 and the 3x3 convolution, so a skipped channel costs nothing in
    either of them nor in the last 1x1 convolution.

    Args:
        filters: int. Middle channels; the block outputs `4 * filters`.
        strides: int. 1 or 2.
        gating: str. `"none"`, `"l"`, `"c"`, `"lc"` or `"aig"`.
        scale: str. `"learned"`, `"gate"` or `"none"`.
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
    block = GatedBottleneckBlock(16, gating="c")
    y, flops, decisions = block(np.random.rand(2, 8, 8, 64))
    ```
    """

    expansion = 4

    def _build_body(self, input_shape):
        in_mid = (None,) + self.in_size + (self.filters,)
        out_mid = (None,) + self.out_size + (self.filters,)
        self.conv1 = self._conv(self.filters, 1, 1, "conv1")
        self.conv1.build(input_shape)
        self.bn1 = self._bn("bn1")
        self.bn1.build(in_mid)
        self.conv2 = self._conv(self.filters, 3, self.strides, "conv2")
        self.conv2.build(in_mid)
        self.bn2 = self._bn("bn2")
        self.bn2.build(out_mid)
        self.conv3 = self._conv(self.out_channels, 1, 1, "conv3")
        self.conv3.build(out_mid)
        self.bn3 = self._bn("bn3")
        self.bn3.build((None,) + self.out_size + (self.out_channels,))

    def _body_layers(self):
        return [
            self.conv1,
            self.bn1,
            self.conv2,
            self.bn2,
            self.conv3,
            self.bn3,
        ]

    def _run_body(self, inputs, channel_mask, channel_scale, training):
        x = ops.relu(self.bn1(self.conv1(inputs), training=training))
        if channel_mask is not None:
            x = x * channel_mask
        x = ops.relu(self.bn2(self.conv2(x), training=training))
        if channel_scale is not None:
            x = x * channel_scale
        return self.bn3(self.conv3(x), training=training)

    def body_flops(self, kept):
        in_h, in_w = self.in_size
        h, w = self.out_size
        return (
            in_h * in_w * self.in_channels * kept
            + 9 * h * w * kept * kept
            + h * w * kept * self.out_channels
        )
