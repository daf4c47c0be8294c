"""A network whose gates are all constant, exported as the static pruned
network it is."""

import dataclasses

import numpy as np

from lcnet_tf.export.folding import FoldedConv
from lcnet_tf.export.gate_heads import gate_values


def constant_gate(gate):
    """`(keep, scale)` of a gate that ignores its input, else None.

    A gate ignores its input when its keep (and learned scale) kernels
    are zero, as `freeze_routing` leaves them: its decisions and scales
    are then those of any input. Computed by the exporter's own gate
    math, so the pruned network decides as every other form does.

    Args:
        gate: a `FoldedGate`.

    Returns:
        None, or `(keep, scale)`: float arrays `(units,)`; scale is None
        for a gate without one, or whose learned scale depends on the
        image (`learns_per_image`).
    """
    if np.any(gate.keep_kernel):
        return None
    pooled = np.zeros((1, gate.hidden_kernel.shape[0]), np.float32)
    keep, scale = gate_values(gate, None, pooled=pooled)
    keep = np.asarray(keep, np.float32)[0]
    if scale is None or learns_per_image(gate):
        return keep, None
    return keep, np.asarray(scale, np.float32)[0]


def learns_per_image(gate):
    """Whether a gate's learned scale depends on the image."""
    return gate.scale == "learned" and bool(np.any(gate.scale_kernel))


def has_constant_decisions(network):
    """Whether a `FoldedNetwork` has gates and every decision is constant
    (a frozen routing, whose learned scales may still be per image)."""
    gates = [
        gate
        for block in network.gated_blocks
        for gate in (block.block_gate, block.channel_gate)
        if gate is not None
    ]
    return bool(gates) and all(constant_gate(g) is not None for g in gates)


def prune_network(network):
    """The static network a `FoldedNetwork` with constant gates describes.

    Blocks whose gate is closed are left out (their input is a ReLU
    output, so `relu(x) == x`), or reduced to their projection; the
    convolutions of a C-gated block keep only the kept channels; the
    channel and block scales are folded into the last convolution's
    weights. What is left has no gates, so every form runs it as a
    plain network: no masks, no conditionals, and only the FLOPs of the
    routing it was frozen to. Learned scales that still depend on the
    image (`TrainConfig(freeze_routing_scales="learned")`) stay as the
    block's `scale_heads`, narrowed to its kept channels: each image
    still scales what it keeps, nothing decides.

    Args:
        network: a `FoldedNetwork` (`fold_model`) of a model whose every
            decision is constant (`lcnet_tf.training.freeze_routing`).

    Returns:
        A `FoldedNetwork` without gated blocks.

    Raises:
        ValueError: naming the blocks whose gates depend on the image.

    Example:

    ```python
    freeze_routing(model, routing)
    pruned = prune_network(fold_model(model))
    ```
    """
    constants, dynamic = {}, []
    for block in network.gated_blocks:
        gates = [
            None if gate is None else constant_gate(gate)
            for gate in (block.block_gate, block.channel_gate)
        ]
        present = [
            g is not None for g in (block.block_gate, block.channel_gate)
        ]
        if any(p and g is None for p, g in zip(present, gates)):
            dynamic.append(block.name)
        constants[block.name] = gates
    if dynamic:
        raise ValueError(
            f"Only a network whose decisions are constant can be pruned; "
            f"the gates of blocks {dynamic} decide per image. Freeze a "
            f"routing first (`lcnet_tf.training.freeze_routing`), or "
            f"export the dynamic or staged form."
        )
    blocks = []
    for block in network.blocks:
        if not block.gated:
            blocks.append(block)
            continue
        pruned = _prune_block(block, *constants[block.name])
        if pruned is not None:
            blocks.append(pruned)
    return dataclasses.replace(network, blocks=blocks)


def _prune_block(block, block_constants, channel_constants):
    # Gates whose learned scale is per image: their scales stay heads,
    # and `constant_gate` gave no scale to fold for them.
    lhead, chead = (
        gate if gate is not None and learns_per_image(gate) else None
        for gate in (block.block_gate, block.channel_gate)
    )
    block_scale = 1.0
    if block_constants is not None:
        run, scale = block_constants
        if run[0] == 0:
            if block.shortcut is None:
                return None
            return _ungated(block, [], block.shortcut)
        if scale is not None:
            block_scale = float(scale[0])
    if channel_constants is None:
        keep = np.ones(block.convs[0].kernel.shape[-1], np.float32)
        channel_scale = keep
    else:
        keep, scale = channel_constants
        channel_scale = keep if scale is None else keep * scale
    kept = np.flatnonzero(keep)
    last = block.convs[-1]
    if not len(kept) and lhead is None:
        # Only the last convolution's bias is left of the branch: a
        # constant, added to the shortcut.
        constant = block_scale * last.bias
        return _ungated(block, [], _with_bias(block, constant))
    if not len(kept):
        # The bias times a per-image block scale: one channel that the
        # last convolution reads with zero weights carries it, exact
        # and nearly free.
        kept, channel_scale = np.zeros(1, np.int64), np.zeros_like(keep)
        chead = None
    convs = [block.convs[0].take_outputs(kept)]
    if block.kind == "bottleneck":
        middle = block.convs[1].take_inputs(kept)
        convs.append(middle.take_outputs(kept))
    last = last.take_inputs(kept)
    kernel = last.kernel * channel_scale[kept][None, None, :, None]
    convs.append(
        dataclasses.replace(
            last,
            kernel=(kernel * block_scale).astype(np.float32),
            bias=(last.bias * block_scale).astype(np.float32),
        )
    )
    heads = None
    if lhead is not None or chead is not None:
        heads = (lhead, chead and _kept_columns(chead, kept))
    return _ungated(block, convs, block.shortcut, heads)


def _kept_columns(gate, kept):
    """A channel head's outputs for the kept channels only, no prefix."""
    return dataclasses.replace(
        gate,
        keep_kernel=gate.keep_kernel[:, kept],
        keep_bias=gate.keep_bias[kept],
        scale_kernel=gate.scale_kernel[:, kept],
        scale_bias=gate.scale_bias[kept],
        nested=False,
        prefix_widths=None,
    )


def _ungated(block, convs, shortcut, scale_heads=None):
    return dataclasses.replace(
        block,
        convs=convs,
        shortcut=shortcut,
        block_gate=None,
        channel_gate=None,
        scale_heads=scale_heads,
    )


def _with_bias(block, constant):
    """The block's shortcut plus a constant per output channel."""
    if block.shortcut is not None:
        return dataclasses.replace(
            block.shortcut, bias=block.shortcut.bias + constant
        )
    channels = constant.shape[0]
    return FoldedConv(
        kernel=np.eye(channels, dtype=np.float32)[None, None],
        bias=constant.astype(np.float32),
        strides=1,
    )
