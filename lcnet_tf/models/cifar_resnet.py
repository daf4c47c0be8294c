from lcnet_tf.data.statistics import CIFAR10_MEAN
from lcnet_tf.data.statistics import CIFAR10_STD
from lcnet_tf.layers.gated_basic_block import GatedBasicBlock
from lcnet_tf.models.preprocessing import preprocessing_layers
from lcnet_tf.models.resnet_builder import build_resnet
from lcnet_tf.models.resnet_builder import conv_bn_relu


def cifar_resnet(
    depth=20,
    gating="none",
    num_classes=10,
    input_shape=(32, 32, 3),
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
    """CIFAR ResNet (He et al. 2016) with optional L-Net/C-Net gating.

    Three stages of `(depth - 2) / 6` basic blocks with 16, 32 and 64
    channels; 1x1 projection shortcuts where the shape changes. With
    `gating != "none"` the model ends in a `FlopsBudget` layer: `fit` then
    adds the budget loss and logs `flops_ratio` and `keep_<block>`.

    The model outputs logits: compile with
    `SparseCategoricalCrossentropy(from_logits=True)`. Inputs are images
    normalised per channel (see `lcnet_tf.data.cifar10_dataset`), or,
    with `include_preprocessing=True`, 0-255 pixels.

    Args:
        depth: int. 20, 32, 44, 56, 110 (any `6n + 2`).
        gating: str. `"none"` (static ResNet), `"l"` (L-Net: skip
            blocks), `"c"` (C-Net: skip middle channels), `"lc"` or
            `"aig"` (the ConvNet-AIG baseline: Gumbel block gates, no
            scaling, per-block target-rate loss).
        num_classes: int. Number of classes.
        input_shape: tuple. Fixed `(height, width, channels)`.
        scale: str. `"learned"`, `"gate"` or `"none"`: how kept outputs
            are scaled.
        tau: float in [0, 1]. Gate threshold (see `set_threshold`).
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
        include_preprocessing: bool. Put CIFAR-10's `Rescaling` and
            `Normalization` in front, so the model (and its TFLite
            export, see `to_tflite(input="uint8")`) takes 0-255 pixels.
        gate_projection_blocks: bool. Whether L-Net (and the AIG
            baseline) may also skip the blocks that change shape, which
            then run their 1x1 projection shortcut alone. Default False:
            those blocks always run, as in ConvNet-AIG (a CIFAR
            ResNet-20 then has 7 skippable blocks, 128 block routings;
            with True 9, 512).
        channel_min_groups: int. With `channel_selection="nested"`, the
            channel groups every block runs whatever its channel gate
            says, so that only a block gate removes a block (0: none).

    Returns:
        A `keras.Model`.

    Example:

    ```python
    model = lcnet_tf.models.cifar_resnet(20, gating="lc", budget_target=0.5)
    model.compile(
        "sgd",
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(train_ds, epochs=1)
    ```
    """
    if not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ValueError(
            f"CIFAR ResNet `depth` must be 6n + 2 (20, 32, 44, 56, 110). "
            f"Received: depth={depth!r}"
        )
    blocks = (depth - 2) // 6
    return build_resnet(
        input_shape=input_shape,
        stem=lambda x: conv_bn_relu(x, 16, 3, 1, "stem"),
        block_class=GatedBasicBlock,
        stage_filters=(16, 32, 64),
        stage_blocks=(blocks,) * 3,
        stage_strides=(1, 2, 2),
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
            preprocessing_layers(CIFAR10_MEAN, CIFAR10_STD)
            if include_preprocessing
            else None
        ),
    )
