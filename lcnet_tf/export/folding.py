"""Reads a trained lcnet_tf model into plain inference constants.

Every export form is built from the same folded description: batch norm
is folded into the convolution before it, gate heads become three dense
layers and a threshold. Keeping this in NumPy lets the exporters slice
filters per channel chunk without touching the Keras model.
"""

import dataclasses

import keras
import numpy as np

from lcnet_tf.flops import count_flops
from lcnet_tf.flops import fixed_flops
from lcnet_tf.layers.flops_budget import FlopsBudget
from lcnet_tf.layers.gated_basic_block import GatedBasicBlock
from lcnet_tf.layers.gated_bottleneck_block import GatedBottleneckBlock
from lcnet_tf.layers.gated_residual_block import GatedResidualBlock

# sigmoid(100) rounds to 1.0 in float32 (as does anything above ~17).
ALWAYS_KEEP_LOGIT = 100.0


@dataclasses.dataclass
class FoldedConv:
    """A convolution with its batch norm folded in: `x * kernel + bias`."""

    kernel: np.ndarray
    bias: np.ndarray
    strides: int
    padding: str = "SAME"

    def output_slice(self, start, stop):
        """The same convolution restricted to output channels."""
        return dataclasses.replace(
            self,
            kernel=self.kernel[..., start:stop],
            bias=self.bias[start:stop],
        )

    def input_slice(self, start, stop):
        """The same convolution reading only some input channels, no bias."""
        return dataclasses.replace(
            self,
            kernel=self.kernel[:, :, start:stop, :],
            bias=np.zeros_like(self.bias),
        )

    def take_outputs(self, index):
        """The output channels at `index` (an int array), in its order."""
        return dataclasses.replace(
            self, kernel=self.kernel[..., index], bias=self.bias[index]
        )

    def take_inputs(self, index):
        """Reads the input channels at `index`, in its order; same bias."""
        return dataclasses.replace(self, kernel=self.kernel[:, :, index, :])


@dataclasses.dataclass
class FoldedGate:
    """A gate head: `keep = sigmoid(relu(pool(x) W1 + b1) W2 + b2) >= tau`.

    Channel-group gates are expanded to one column per channel (the
    columns of a group are copies), so every form reads per-channel
    values without a repeat op.
    """

    hidden_kernel: np.ndarray
    hidden_bias: np.ndarray
    keep_kernel: np.ndarray
    keep_bias: np.ndarray
    scale_kernel: np.ndarray | None
    scale_bias: np.ndarray | None
    scale: str
    tau: float
    groups: int
    nested: bool = False
    # The widths its block may run at in the dynamic form, from real
    # images (`export.channel_order`; a free gate's channels reordered,
    # most kept first), else None.
    prefix_widths: tuple | None = None


@dataclasses.dataclass
class FoldedBlock:
    """One residual block: `relu(shortcut(x) + b * s * F(x))`."""

    name: str
    kind: str
    filters: int
    convs: list
    shortcut: FoldedConv | None
    block_gate: FoldedGate | None
    channel_gate: FoldedGate | None
    keras_block: GatedResidualBlock
    # A pruned block's `(block, channel)` heads whose learned scales
    # still depend on the image (either may be None; `prune_network`),
    # else None: no decisions, only scales.
    scale_heads: tuple | None = None

    @property
    def gated(self):
        return self.block_gate is not None or self.channel_gate is not None


@dataclasses.dataclass
class FoldedNetwork:
    """A ResNet as stem ops, residual blocks and a dense classifier."""

    name: str
    input_shape: tuple
    stem: list
    blocks: list
    head_kernel: np.ndarray
    head_bias: np.ndarray
    static_flops: int
    fixed_flops: int
    # True when the model starts with a `Rescaling` (0-255 pixels in).
    takes_pixels: bool = False
    # The exported input: "float32", or "uint8" pixels (`to_tflite`).
    input_dtype: str = "float32"

    @property
    def gated_blocks(self):
        return [block for block in self.blocks if block.gated]


def _numpy(variable):
    return np.asarray(keras.ops.convert_to_numpy(variable), np.float32)


def fold_conv_bn(conv, bn):
    """Folds an inference-mode batch norm into the convolution before it.

    Args:
        conv: a built `keras.layers.Conv2D` (no activation, "same" padding).
        bn: the `keras.layers.BatchNormalization` that follows it, or None.

    Returns:
        A `FoldedConv`.
    """
    if conv.padding != "same" and conv.kernel_size != (1, 1):
        raise ValueError(
            f"Conv2D '{conv.name}' uses padding={conv.padding!r}; the "
            f"exporter supports 'same' padding (or 1x1 kernels)."
        )
    if conv.dilation_rate != (1, 1) or conv.groups != 1:
        raise ValueError(
            f"Conv2D '{conv.name}' is dilated or grouped; the exporter does "
            f"not support that."
        )
    if conv.strides[0] != conv.strides[1]:
        raise ValueError(f"Conv2D '{conv.name}' has unequal strides.")
    if conv.activation not in (keras.activations.linear, None):
        raise ValueError(
            f"Conv2D '{conv.name}' has a fused activation; put it in its "
            f"own layer for export."
        )
    kernel = _numpy(conv.kernel)
    out_channels = kernel.shape[-1]
    bias = _numpy(conv.bias) if conv.use_bias else np.zeros(out_channels)
    if bn is not None:
        gamma = _numpy(bn.gamma) if bn.scale else np.ones(out_channels)
        beta = _numpy(bn.beta) if bn.center else np.zeros(out_channels)
        factor = gamma / np.sqrt(_numpy(bn.moving_variance) + bn.epsilon)
        kernel = kernel * factor
        bias = (bias - _numpy(bn.moving_mean)) * factor + beta
    return FoldedConv(
        kernel.astype(np.float32),
        bias.astype(np.float32),
        conv.strides[0],
        conv.padding.upper(),
    )


def fold_gate(gate):
    """Reads a built `GateHead` (or `BlockGate`/`ChannelGate`)."""
    groups = getattr(gate, "groups", 1)

    def expand(array):
        # One column per channel: a group's columns are copies.
        return np.repeat(array, groups, axis=-1)

    scale_kernel = scale_bias = None
    if gate.scale == "learned":
        scale_kernel = expand(_numpy(gate.scale_logits.kernel))
        scale_bias = expand(_numpy(gate.scale_logits.bias))
    keep_kernel = expand(_numpy(gate.keep_logits.kernel))
    keep_bias = expand(_numpy(gate.keep_logits.bias))
    # Groups that always run (`ChannelGate.min_groups`) become a keep
    # logit no input moves, whose sigmoid is exactly 1 in float32: every
    # form then keeps them, with probability 1, as the Keras layer does.
    always = getattr(gate, "min_groups", 0) * groups
    keep_kernel[:, :always] = 0.0
    keep_bias[:always] = ALWAYS_KEEP_LOGIT
    return FoldedGate(
        hidden_kernel=_numpy(gate.hidden.kernel),
        hidden_bias=_numpy(gate.hidden.bias),
        keep_kernel=keep_kernel,
        keep_bias=keep_bias,
        scale_kernel=scale_kernel,
        scale_bias=scale_bias,
        scale=gate.scale,
        tau=gate.tau,
        groups=groups,
        nested=getattr(gate, "selection", "free") == "nested",
    )


def fold_block(block):
    """Reads a built gated residual block into a `FoldedBlock`."""
    if isinstance(block, GatedBottleneckBlock):
        kind = "bottleneck"
        convs = [
            fold_conv_bn(block.conv1, block.bn1),
            fold_conv_bn(block.conv2, block.bn2),
            fold_conv_bn(block.conv3, block.bn3),
        ]
    elif isinstance(block, GatedBasicBlock):
        kind = "basic"
        convs = [
            fold_conv_bn(block.conv1, block.bn1),
            fold_conv_bn(block.conv2, block.bn2),
        ]
    else:
        raise ValueError(
            f"Block '{block.name}' ({block.__class__.__name__}) is not a "
            f"GatedBasicBlock or GatedBottleneckBlock; the exporter does "
            f"not know how to run it."
        )
    shortcut = None
    if block.projection:
        shortcut = fold_conv_bn(block.shortcut_conv, block.shortcut_bn)
    return FoldedBlock(
        name=block.name,
        kind=kind,
        filters=block.filters,
        convs=convs,
        shortcut=shortcut,
        block_gate=fold_gate(block.block_gate) if block.block_gate else None,
        channel_gate=(
            fold_gate(block.channel_gate) if block.channel_gate else None
        ),
        keras_block=block,
    )


def _inbound_count(layer):
    return len(getattr(layer, "_inbound_nodes", []))


def fold_model(model):
    """Reads a ResNet built by lcnet_tf into a `FoldedNetwork`.

    The model must be a chain: a stem of Conv2D / BatchNormalization /
    ReLU / MaxPooling2D / ZeroPadding2D layers, residual blocks, global
    average pooling and one Dense classifier (a `FlopsBudget` at the end
    is ignored: it only trains).

    Args:
        model: a functional `keras.Model` from `lcnet_tf.models`.

    Returns:
        A `FoldedNetwork`.

    Raises:
        ValueError: naming the first layer the exporter does not know.
    """
    if not isinstance(model, keras.Model) or not hasattr(model, "inputs"):
        raise ValueError(
            f"Expected a functional keras.Model built by lcnet_tf. "
            f"Received: {type(model).__name__}"
        )
    input_shape = tuple(model.inputs[0].shape[1:])
    if len(input_shape) != 3 or None in input_shape:
        raise ValueError(
            f"The exporter needs a fixed (height, width, channels) input. "
            f"Received input shape: {model.inputs[0].shape}"
        )
    stem, blocks = [], []
    head = None
    pooled = False
    layers = [
        layer
        for layer in model.layers
        if not isinstance(layer, (keras.layers.InputLayer, FlopsBudget))
    ]
    index = 0
    while index < len(layers):
        layer = layers[index]
        if _inbound_count(layer) > 1:
            raise ValueError(
                f"Layer '{layer.name}' is called more than once; the "
                f"exporter supports chain models only."
            )
        after_blocks = bool(blocks) or pooled
        if isinstance(layer, GatedResidualBlock):
            if pooled:
                raise ValueError(f"Block '{layer.name}' follows the pooling.")
            blocks.append(fold_block(layer))
        elif isinstance(layer, keras.layers.Conv2D) and not after_blocks:
            following = layers[index + 1] if index + 1 < len(layers) else None
            bn = None
            if isinstance(following, keras.layers.BatchNormalization):
                bn = following
                index += 1
            stem.append(("conv", fold_conv_bn(layer, bn)))
        elif _is_relu(layer) and not after_blocks:
            stem.append(("relu", None))
        elif isinstance(layer, keras.layers.MaxPooling2D) and not after_blocks:
            stem.append(
                ("max_pool", (layer.pool_size, layer.strides, layer.padding))
            )
        elif _is_preprocessing(layer) and not after_blocks:
            if any(kind != "affine" for kind, _ in stem):
                raise ValueError(
                    f"Preprocessing layer '{layer.name}' must come before "
                    f"the first convolution."
                )
            stem[:] = [("affine", _compose(stem, _affine(layer)))]
        elif isinstance(layer, keras.layers.ZeroPadding2D) and not after_blocks:
            stem.append(("pad", tuple(map(tuple, layer.padding))))
        elif isinstance(layer, keras.layers.GlobalAveragePooling2D):
            pooled = True
        elif isinstance(layer, keras.layers.Dense) and pooled and head is None:
            if layer.activation not in (keras.activations.linear, None):
                raise ValueError(
                    f"Classifier '{layer.name}' must output logits (no "
                    f"activation) for export."
                )
            head = (_numpy(layer.kernel), _numpy(layer.bias))
        else:
            raise ValueError(
                f"The exporter does not know layer '{layer.name}' "
                f"({layer.__class__.__name__}) at this place. Supported: "
                f"Rescaling/Normalization preprocessing, a Conv2D/"
                f"BatchNormalization/ReLU/MaxPooling2D/ZeroPadding2D stem, "
                f"GatedBasicBlock/GatedBottleneckBlock "
                f"blocks, GlobalAveragePooling2D and one Dense classifier."
            )
        index += 1
    if head is None or not blocks:
        raise ValueError(
            f"Model '{model.name}' is not a ResNet built by lcnet_tf: it "
            f"needs residual blocks, global average pooling and a Dense "
            f"classifier."
        )
    return FoldedNetwork(
        name=model.name,
        input_shape=input_shape,
        stem=stem,
        blocks=blocks,
        head_kernel=head[0],
        head_bias=head[1],
        static_flops=count_flops(model, gates=False),
        fixed_flops=fixed_flops(
            model, [b.keras_block for b in blocks if b.gated]
        ),
        takes_pixels=any(
            isinstance(layer, keras.layers.Rescaling) for layer in layers
        ),
    )


def _is_preprocessing(layer):
    if isinstance(layer, keras.layers.Normalization):
        return not layer.invert
    return isinstance(layer, keras.layers.Rescaling)


def _affine(layer):
    """`(scale, offset)` with `layer(x) == x * scale + offset`."""
    if isinstance(layer, keras.layers.Rescaling):
        return (
            np.asarray(layer.scale, "float32"),
            np.asarray(layer.offset, "float32"),
        )
    mean = np.asarray(layer.mean, "float32").reshape(-1)
    std = np.maximum(
        np.sqrt(np.asarray(layer.variance, "float32").reshape(-1)),
        keras.config.epsilon(),
    )
    return 1.0 / std, -mean / std


def _compose(stem, affine):
    """The stem's pending affine map (if any) followed by `affine`."""
    if not stem:
        return affine
    (scale, offset), (next_scale, next_offset) = stem[0][1], affine
    return scale * next_scale, offset * next_scale + next_offset


def _is_relu(layer):
    if isinstance(layer, keras.layers.ReLU):
        return (
            layer.max_value is None
            and not layer.negative_slope
            and not layer.threshold
        )
    if isinstance(layer, keras.layers.Activation):
        return layer.activation is keras.activations.relu
    return False
