"""Assembles gated ResNets from a stem, gated blocks and a head."""

import keras

from lcnet_tf.flops import count_flops
from lcnet_tf.flops import fixed_flops
from lcnet_tf.layers.flops_budget import FlopsBudget
from lcnet_tf.layers.gated_residual_block import check_gating


def block_gating(gating, changes_shape, gate_projection_blocks=False):
    """The gating a block gets: blocks that change shape always run,
    unless `gate_projection_blocks` lets their block gate skip them."""
    if not changes_shape or gate_projection_blocks:
        return gating
    if gating == "aig":
        return "none"
    return gating.replace("l", "") or "none"


def build_resnet(
    input_shape,
    stem,
    block_class,
    stage_filters,
    stage_blocks,
    stage_strides,
    gating,
    num_classes,
    budget_target,
    budget_weight,
    name,
    depth,
    preprocessing=None,
    gate_projection_blocks=False,
    **block_kwargs,
):
    """Builds a (gated) ResNet as a functional `keras.Model`.

    Args:
        input_shape: tuple `(height, width, channels)`, fixed.
        stem: callable mapping the input tensor to the first feature map.
        block_class: `GatedBasicBlock` or `GatedBottleneckBlock`.
        stage_filters: list of int. Middle channels of each stage.
        stage_blocks: list of int. Blocks in each stage.
        stage_strides: list of int. Stride of each stage's first block.
        gating: str. `"none"`, `"l"`, `"c"`, `"lc"` or `"aig"`.
        num_classes: int. Number of logits.
        budget_target: float in (0, 1]. FLOPs target of the budget loss.
        budget_weight: float >= 0. Weight of the budget loss.
        name: str or None. Model name; defaults to e.g. `lc_resnet20`.
        depth: int. Network depth, for the default name.
        preprocessing: list of layers applied to the input before the
            stem (see `preprocessing_layers`), or None.
        gate_projection_blocks: bool. Whether the blocks that change
            shape get a block gate too (skipped, they run their
            projection shortcut alone).
        **block_kwargs: gate settings passed to every block (`scale`,
            `tau`, `channel_groups`, `gate_hidden_units`, `noise_std`,
            `seed`).

    Returns:
        A `keras.Model` mapping images to logits.
    """
    check_gating(gating)
    if int(num_classes) < 1:
        raise ValueError(f"`num_classes` must be >= 1. Received: {num_classes}")
    if name is None:
        prefix = "" if gating == "none" else f"{gating}_"
        name = f"{prefix}resnet{depth}"
    inputs = keras.Input(shape=tuple(input_shape), name="images")
    x = inputs
    for layer in preprocessing or ():
        x = layer(x)
    x = stem(x)
    seed = block_kwargs.pop("seed", None)
    blocks, flops, decisions = [], [], []
    for stage, (filters, count, strides) in enumerate(
        zip(stage_filters, stage_blocks, stage_strides), start=1
    ):
        for index in range(1, count + 1):
            block_strides = strides if index == 1 else 1
            out_channels = filters * block_class.expansion
            changes = block_strides != 1 or x.shape[-1] != out_channels
            block = block_class(
                filters,
                strides=block_strides,
                gating=block_gating(gating, changes, gate_projection_blocks),
                skip_projection=gate_projection_blocks,
                seed=None if seed is None else seed + 2 * len(blocks),
                name=f"stage{stage}_block{index}",
                **block_kwargs,
            )
            outputs = block(x)
            if block.gates:
                x, block_flops, block_decisions = outputs
                blocks.append(block)
                flops.append(block_flops)
                decisions.append(block_decisions)
            else:
                x = outputs
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    # float32 under mixed precision, as Keras advises for the last layer.
    logits = keras.layers.Dense(num_classes, name="logits", dtype="float32")(x)
    if not blocks:
        return keras.Model(inputs, logits, name=name)

    body = keras.Model(inputs, logits)
    full_flops = count_flops(body, gates=False)
    fixed = fixed_flops(body, blocks)
    rate_args = {}
    if gating == "aig":
        skipped = [block.flops_for(0, block.filters) for block in blocks]
        rate_args = dict(
            loss="rate",
            skipped_flops=fixed + sum(skipped),
            gated_body_flops=sum(
                block.open_flops() - flops
                for block, flops in zip(blocks, skipped)
            ),
        )
    logits = FlopsBudget(
        full_flops=full_flops,
        fixed_flops=fixed,
        **rate_args,
        block_names=[block.name for block in blocks],
        target=budget_target,
        weight=budget_weight,
        name="flops_budget",
        # Under mixed precision too: FLOPs overflow float16, and the
        # logits leave the model in float32 (as Keras advises).
        dtype="float32",
    )([logits, flops, decisions])
    return keras.Model(inputs, logits, name=name)


def conv_bn_relu(x, filters, kernel_size, strides, name):
    """Stem convolution, batch norm and ReLU."""
    x = keras.layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding="same",
        use_bias=False,
        kernel_initializer="he_normal",
        name=f"{name}_conv",
    )(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)
