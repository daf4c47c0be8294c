import keras

from lcnet_tf.data.statistics import IMAGENET_MEAN
from lcnet_tf.data.statistics import IMAGENET_STD
from lcnet_tf.layers.gated_basic_block import GatedBasicBlock
from lcnet_tf.layers.gated_bottleneck_block import GatedBottleneckBlock
from lcnet_tf.models.preprocessing import preprocessing_layers
from lcnet_tf.models.resnet_builder import build_resnet
from lcnet_tf.models.resnet_builder import conv_bn_relu

_ARCHITECTURES = {
    18: (GatedBasicBlock, (2, 2, 2, 2)),
    34: (GatedBasicBlock, (3, 4, 6, 3)),
    50: (GatedBottleneckBlock, (3, 4, 6, 3)),
    101: (GatedBottleneckBlock, (3, 4, 23, 3)),
    152: (GatedBottleneckBlock, (3, 8, 36, 3)),
}


def _imagenet_stem(x):
    x = conv_bn_relu(x, 64, 7, 2, "stem")
    return keras.layers.MaxPooling2D(
        3, strides=2, padding="same", name="stem_pool"
    )(x)


def imagenet_resnet(
    depth=50,
    gating="none",
    num_classes=1000,
    input_shape=(224, 224, 3),
    scale="learned",
    tau=0.5,
    channel_groups=1,
    channel_selection="free",
    gate_hidden_units=None,
    noise_std=0.0,
    budget_target=0.5,
    budget_weight=2.0,
    seed=None,
    name=None,
    gate_regularizer=None,
    include_preprocessing=False,
    gate_projection_blocks=False,
    channel_min_groups=0,
):
    """ImageNet ResNet (v1.5) with optional L-Net/C-Net gating.

    Basic blocks for depths 18 and 34, bottleneck blocks (stride on the
    3x3 convolution) for 50, 101 and 152. Outputs logits. See
    `cifar_resnet` for the gating arguments.

    Args:
        depth: int. 18, 34, 50, 101 or 152.
        gating: str. `"none"`, `"l"`, `"c"`, `"lc"` or `"aig"`.
        num_classes: int. Number of classes.
        input_shape: tuple. Fixed `(height, width, channels)`.
        scale: str. `"learned"`, `"gate"` or `"none"`.
        tau: float in [0, 1]. Gate threshold.
        channel_groups: int. Channels per C-Net decision.
        channel_selection: str. `"free"` (any subset of channel groups)
            or `"nested"` (a prefix of the ordered groups: kept filters
            are a contiguous slice, see `ChannelGate`).
        gate_hidden_units: int or None. Hidden width of the gate heads.
        noise_std: float >= 0. Logistic exploration noise in training.
        budget_target: float in (0, 1]. Wanted mean FLOPs ratio.
        budget_weight: float >= 0. Weight of the budget loss.
        seed: int or None. Seed of the exploration noise.
        name: str or None. Model name.
        gate_regularizer: `lcnet_tf.layers.GateRegularizer` or None.
            Keep-rate bounds and batch-shaping for the L-Net and C-Net
            gates (keeps routing per image; see `GateSchedule`).
        include_preprocessing: bool. Put ImageNet's `Rescaling` and
            `Normalization` in front, so the model takes 0-255 pixels.
        gate_projection_blocks: bool. Whether block gates may also skip
            the blocks that change shape (see `cifar_resnet`).
        channel_min_groups: int. Channel groups that always run (see
            `cifar_resnet`).

    Returns:
        A `keras.Model`.

    Example:

    ```python
    model = lcnet_tf.models.imagenet_resnet(50, gating="lc")
    ```
    """
    if depth not in _ARCHITECTURES:
        raise ValueError(
            f"ImageNet ResNet `depth` must be one of "
            f"{sorted(_ARCHITECTURES)}. Received: depth={depth!r}"
        )
    block_class, stage_blocks = _ARCHITECTURES[depth]
    return build_resnet(
        input_shape=input_shape,
        stem=_imagenet_stem,
        block_class=block_class,
        stage_filters=(64, 128, 256, 512),
        stage_blocks=stage_blocks,
        stage_strides=(1, 2, 2, 2),
        gating=gating,
        num_classes=num_classes,
        budget_target=budget_target,
        budget_weight=budget_weight,
        name=name,
        depth=depth,
        scale=scale,
        tau=tau,
        channel_groups=channel_groups,
        channel_selection=channel_selection,
        gate_hidden_units=gate_hidden_units,
        noise_std=noise_std,
        seed=seed,
        gate_regularizer=gate_regularizer,
        gate_projection_blocks=gate_projection_blocks,
        channel_min_groups=channel_min_groups,
        preprocessing=(
            preprocessing_layers(IMAGENET_MEAN, IMAGENET_STD)
            if include_preprocessing
            else None
        ),
    )
