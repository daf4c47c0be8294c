"""Free channel gates' channels reordered so that a prefix holds the
kept ones, which the dynamic form then runs as a narrower convolution;
and the widths a gate's block gets a conditional for, free or nested.

A free C-Net gate may keep any subset of a block's channels, so masking
them saves no time. But trained gates keep some channels far more often
than others. With the channels sorted by how often the gate keeps them
(an exact reparameterisation: the same filters, their order changed in
the convolution that writes them, the one that reads them and the
gate's columns), most images keep only channels near the front, and the
dynamic form runs the block at the width of the last kept one, rounded
up to a width that real images often need (`channel_plans`), masking
the closed channels inside it.

A nested gate already keeps a prefix, so its order stays; but it has a
conditional for every count of groups, and trained nested gates use
only one or two of them per block. Its plan lists the widths real
images often need, and the others run the next wider one.
"""

import dataclasses

import numpy as np

# Channels per width step of a reordered free block: widths narrower
# than this buy little on CPUs with 16-float vectors, and every step is
# one more conditional per block.
PREFIX_STEP = 8


def prefix_step(filters, groups):
    """Channels per width step of a free C-gated block.

    Args:
        filters: int. The block's gated channels.
        groups: int. Channels per gate unit.

    Returns:
        The largest multiple of `groups` that divides `filters` and is at
        most `max(PREFIX_STEP, groups)`.
    """
    step = groups
    for multiple in range(groups, max(PREFIX_STEP, groups) + 1, groups):
        if filters % multiple == 0:
            step = multiple
    return step


# Training images that the project's tools (results page, benchmarks,
# demo) order free channel gates' channels with.
CALIBRATION_IMAGES = 500


def calibration_images(data_dir):
    """The CIFAR-10 training images the project's tools order free
    channel gates' channels with (`CALIBRATION_IMAGES`, normalised).

    Args:
        data_dir: str or None. CIFAR-10 binaries (`cifar10_arrays`).

    Returns:
        float array `(CALIBRATION_IMAGES, 32, 32, 3)`.
    """
    from lcnet_tf.data.cifar10 import cifar10_arrays

    images, _ = cifar10_arrays(
        "train", data_dir, num_examples=CALIBRATION_IMAGES
    )
    return images


# A width that fewer calibration images need than this share (of those
# that run the block) gets no conditional of its own: its images run
# the next wider one, which costs less than a conditional that is
# almost never taken.
MIN_WIDTH_SHARE = 0.05


def width_step(filters, groups, nested):
    """Channels per width step of a C-gated block's dynamic form.

    Args:
        filters: int. The block's gated channels.
        groups: int. Channels per gate unit.
        nested: bool. A nested gate steps by its groups, a free one by
            `prefix_step`.

    Returns:
        int.
    """
    return groups if nested else prefix_step(filters, groups)


@dataclasses.dataclass
class ChannelPlan:
    """How a C-gated block runs in the dynamic form.

    Attributes:
        order: int array, a permutation of the block's channels, most
            often kept first (a gate group's channels stay together);
            the identity for a nested gate.
        widths: tuple of ints, ascending, multiples of `width_step`,
            the last the block's full width: the widths it may run at.
    """

    order: np.ndarray
    widths: tuple


def channel_plans(model, images, min_share=MIN_WIDTH_SHARE):
    """Each C-gated block's `ChannelPlan`, from real images.

    Args:
        model: the gated Keras model being exported, with the thresholds
            the export takes.
        images: array `(n, H, W, C)` of real images as the model takes
            them (a few hundred training images).
        min_share: float in [0, 1]. Widths needed by fewer of the images
            that run the block are left out (those run the next wider).

    Returns:
        dict from block name to `ChannelPlan`.
    """
    from lcnet_tf.training.gate_decisions import gate_decisions

    if not 0.0 <= min_share <= 1.0:
        raise ValueError(
            f"`min_share` must be in [0, 1]. Received: {min_share}"
        )
    decisions = gate_decisions(model, np.asarray(images, np.float32))
    plans = {}
    for layer in model.layers:
        gate = getattr(layer, "channel_gate", None)
        if gate is None:
            continue
        channels = decisions[layer.name]["channels"]
        run = decisions[layer.name]["run"] > 0
        groups = layer.filters // channels.shape[1]
        nested = gate.selection == "nested"
        if nested:
            order = np.arange(layer.filters)
        else:
            units = np.argsort(-channels.mean(axis=0), kind="stable")
            order = (units[:, None] * groups + np.arange(groups)).reshape(-1)
        step = width_step(layer.filters, groups, nested)
        kept = np.repeat(channels[run], groups, axis=1)[:, order] > 0
        last = np.where(
            kept.any(axis=1), kept.shape[1] - np.argmax(kept[:, ::-1], 1), 0
        )
        needed, counts = np.unique(-(-last // step) * step, return_counts=True)
        common = needed[counts >= min_share * max(len(last), 1)]
        widths = sorted(set(common.tolist()) | {layer.filters})
        plans[layer.name] = ChannelPlan(order, tuple(widths))
    return plans


def has_channel_gates(network, free_only=False):
    """Whether a `FoldedNetwork` has a channel gate: any, or with
    `free_only` a free one (the staged form's width bodies of a nested
    gate need no plan)."""
    return any(
        block.channel_gate is not None
        and not (free_only and block.channel_gate.nested)
        for block in network.blocks
    )


def _gate_columns(gate, order):
    def columns(array):
        return None if array is None else array[..., order]

    return dataclasses.replace(
        gate,
        keep_kernel=columns(gate.keep_kernel),
        keep_bias=columns(gate.keep_bias),
        scale_kernel=columns(gate.scale_kernel),
        scale_bias=columns(gate.scale_bias),
    )


def reorder_block(block, plan):
    """A `FoldedBlock` whose gated channels come in `plan.order`, run at
    `plan.widths` by the dynamic form (a nested gate's order stays).

    The block computes the same function (up to float rounding in the
    sums over the reordered channels); its channel gate's outputs come
    in the new order.
    """
    order = np.asarray(plan.order)
    if sorted(order.tolist()) != list(range(block.filters)):
        raise ValueError(
            f"The order of block '{block.name}' must be a permutation of "
            f"its {block.filters} channels. Received: {order.tolist()}"
        )
    if block.channel_gate.nested and np.any(order != np.sort(order)):
        raise ValueError(
            f"Block '{block.name}' has a nested channel gate, which keeps "
            f"a prefix of its channels: its order must stay "
            f"0..{block.filters - 1}. Received: {order.tolist()}"
        )
    gate = block.channel_gate
    step = width_step(block.filters, gate.groups, gate.nested)
    widths = list(plan.widths)
    if (
        widths != sorted(set(widths))
        or widths[-1] != block.filters
        or any(w % step for w in widths)
    ):
        raise ValueError(
            f"The widths of block '{block.name}' must ascend in multiples "
            f"of {step} up to its {block.filters} channels. Received: "
            f"{plan.widths}"
        )
    convs = list(block.convs)
    convs[0] = convs[0].take_outputs(order)
    if block.kind == "bottleneck":
        convs[1] = convs[1].take_inputs(order).take_outputs(order)
    convs[-1] = convs[-1].take_inputs(order)
    gate = dataclasses.replace(
        _gate_columns(gate, order), prefix_widths=tuple(widths)
    )
    return dataclasses.replace(block, convs=convs, channel_gate=gate)


def reorder_channels(network, plans):
    """`network` with the blocks named in `plans` reordered.

    Args:
        network: a `FoldedNetwork`.
        plans: dict from block name to `ChannelPlan` (`channel_plans`).

    Returns:
        A `FoldedNetwork`.
    """
    unknown = set(plans) - {
        block.name for block in network.blocks if block.channel_gate
    }
    if unknown:
        raise ValueError(
            f"No blocks with a channel gate named {sorted(unknown)} "
            f"in '{network.name}'."
        )
    return dataclasses.replace(
        network,
        blocks=[
            reorder_block(block, plans[block.name])
            if block.name in plans
            else block
            for block in network.blocks
        ],
    )
