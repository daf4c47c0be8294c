"""TensorFlow inference ops over a `FoldedNetwork`, shared by every form.

Only ops the TFLite converter lowers to builtins (and, outside the
dynamic form's conditionals, ops the GPU delegate runs) are used. Gates
compute `keep = sigmoid(z) >= tau` exactly as the Keras layers do, so
every form takes the same decisions as the trained model.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from lcnet_tf.export.channel_order import width_step
from lcnet_tf.export.gate_heads import block_gates
from lcnet_tf.export.gate_heads import head_scales


def conv(x, folded, relu=False):
    """`relu?(conv2d(x, kernel) + bias)` for a `FoldedConv`."""
    y = tf.nn.conv2d(
        x, folded.kernel, strides=folded.strides, padding=folded.padding
    )
    y = y + folded.bias
    return tf.nn.relu(y) if relu else y


def run_stem(network, x):
    for kind, value in network.stem:
        if kind == "affine":
            x = tf.cast(x, tf.float32) * value[0] + value[1]
        elif kind == "conv":
            x = conv(x, value)
        elif kind == "relu":
            x = tf.nn.relu(x)
        elif kind == "max_pool":
            pool_size, strides, padding = value
            x = tf.nn.max_pool2d(x, pool_size, strides, padding.upper())
        elif kind == "pad":
            x = tf.pad(x, [[0, 0], list(value[0]), list(value[1]), [0, 0]])
    return x


def run_head(network, x):
    pooled = tf.reduce_mean(x, axis=[1, 2])
    return tf.matmul(pooled, network.head_kernel) + network.head_bias


def times_scale(values, scale):
    """`values * scale`, or `values` for a gate without scale (None)."""
    return values if scale is None else values * scale


def shortcut(block, x):
    return x if block.shortcut is None else conv(x, block.shortcut)


def skipped_output(block, x, base=None):
    """What a block whose gate skips its body outputs: its input (a ReLU
    output already, so `relu(x) == x`), or, for a block that changes
    shape, `relu(projection(x))`; `base` is that projection if it was
    computed already."""
    if block.shortcut is None:
        return x
    return tf.nn.relu(shortcut(block, x) if base is None else base)


def _channels(values):
    """`(batch, C)` per-channel values as `(batch, 1, 1, C)` (as is if
    already so)."""
    if values.shape.rank == 4:
        return values
    # One RESHAPE, where `values[:, None, None, :]` converts to a RESHAPE
    # and a STRIDED_SLICE (18-25 ops fewer per ResNet-20, though no
    # measurable time: tflite/README.md, "Where the time goes").
    return tf.reshape(values, [-1, 1, 1, values.shape[-1]])


def full_body(block, x, channel_mask=None, channel_scale=None):
    """The residual branch over every middle channel, masked if given."""
    if not block.convs:
        # A pruned block that keeps only its shortcut.
        return tf.constant(0.0)
    if block.kind == "basic":
        y = conv(x, block.convs[0], relu=True)
        if channel_scale is not None:
            y = y * _channels(channel_scale)
        return conv(y, block.convs[1])
    y = conv(x, block.convs[0], relu=True)
    if channel_mask is not None:
        y = y * _channels(channel_mask)
    y = conv(y, block.convs[1], relu=True)
    if channel_scale is not None:
        y = y * _channels(channel_scale)
    return conv(y, block.convs[2])


def masked_block(block, x):
    """Computes everything and multiplies by the decisions (any batch).

    Returns:
        `(outputs, decision)`; decision is `(batch, 2)`:
        `[block_run, kept_channel_fraction]`, the fraction being 0 where
        the block does not run.
    """
    if block.scale_heads is not None:
        return _scaled_block(block, x), None
    mask = scale = kept = run = None
    lgate, cgate = block_gates(block, x) if block.gated else (None, None)
    if cgate is not None:
        mask, c_scale = cgate
        scale = times_scale(mask, c_scale)
        kept = tf.reduce_mean(mask, axis=-1, keepdims=True)
    residual = full_body(block, x, mask, scale)
    if lgate is not None:
        run, b_scale = lgate
        residual = residual * _channels(times_scale(run, b_scale))
    outputs = tf.nn.relu(shortcut(block, x) + residual)
    # Built from elementwise ops only (no shape-dependent ones), so the
    # GPU delegate takes the whole graph.
    if run is None and kept is None:
        return outputs, None
    if run is None:
        return outputs, tf.concat([kept * 0.0 + 1.0, kept], axis=-1)
    if kept is None:
        return outputs, tf.concat([run, run], axis=-1)
    return outputs, tf.concat([run, kept * run], axis=-1)


def _scaled_block(block, x):
    """A pruned block whose kept channels still scale per image."""
    block_scale, channel_scale = head_scales(block, x)
    residual = full_body(block, x, channel_scale=channel_scale)
    if block_scale is not None:
        residual = residual * _channels(block_scale)
    return tf.nn.relu(shortcut(block, x) + residual)


def chunk_bounds(block, chunks):
    """`[(start, stop), ...]` of the channel chunks of a block."""
    width = block.filters // chunks
    return [(i * width, (i + 1) * width) for i in range(chunks)]


def _chunk_sum(block, x, keep, scale, chunks, total, block_scale):
    """Adds the residual branch to `total`, one conditional per chunk.

    A chunk runs when any of its channels is kept (batch 1); a skipped
    chunk's branch returns `total` unchanged, so nothing is computed or
    stored for it. In a bottleneck block the 3x3 convolution of a kept
    chunk reads every middle channel (skipped chunks are zeros there).

    Returns:
        `(total, chunks_run)`.
    """
    bounds = chunk_bounds(block, chunks)
    wanted = [tf.reduce_max(keep[0, a:b]) > 0.5 for a, b in bounds]
    if block.kind == "basic":
        first, last = block.convs
        source = x
    else:
        entry, first, last = block.convs
        parts = []
        for (a, b), run in zip(bounds, wanted):
            parts.append(
                tf.ensure_shape(
                    tf.cond(
                        run,
                        lambda a=a, b=b: (
                            conv(x, entry.output_slice(a, b), relu=True)
                            * _channels(keep[:, a:b])
                        ),
                        # Shaped like the chunk, from a slice of x
                        # (x has 4x as many channels): no stored zeros.
                        lambda a=a, b=b: tf.zeros_like(x[..., : b - a]),
                    ),
                    x.shape[:3].as_list() + [b - a],
                )
            )
        source = tf.concat(parts, axis=-1)

    out_shape = _out_shape(block)

    def scaled(values):
        if block_scale is None:
            return values
        return values * _channels(block_scale)

    total = total + scaled(tf.constant(last.bias)[None, None, None, :])
    for (a, b), run in zip(bounds, wanted):

        def compute(a=a, b=b, total=total):
            y = conv(source, first.output_slice(a, b), relu=True)
            y = y * _channels(scale[:, a:b])
            return total + scaled(conv(y, last.input_slice(a, b)))

        total = tf.ensure_shape(
            tf.cond(run, compute, lambda total=total: total), out_shape
        )
    count = tf.add_n([tf.cast(run, tf.float32) for run in wanted])
    return total, count


def width_residual(block, x, width, scale, mask=None):
    """The residual branch over the first `width` middle channels only.

    Constant slices of the folded weights: an ordinary, narrower
    convolution, nothing computed for the other channels. `scale`
    multiplies the last convolution's input; a bottleneck block also
    multiplies its first convolution's output by `mask` if given (free
    gates, whose prefix may hold closed channels).
    """
    if block.kind == "basic":
        first, last = block.convs
        y = conv(x, first.output_slice(0, width), relu=True)
        y = y * _first_channels(scale, width)
        return conv(y, last.input_slice(0, width)) + last.bias
    entry, middle, last = block.convs
    y = conv(x, entry.output_slice(0, width), relu=True)
    if mask is not None:
        y = y * _first_channels(mask, width)
    middle = middle.output_slice(0, width)
    middle = dataclasses.replace(middle, kernel=middle.kernel[:, :, :width])
    y = conv(y, middle, relu=True) * _first_channels(scale, width)
    return conv(y, last.input_slice(0, width)) + last.bias


def _first_channels(values, width):
    """`_channels(values)` over the first `width` channels; no op at all
    for every channel (inside a conditional's branch, each op counts)."""
    values = _channels(values)
    if width == values.shape[-1]:
        return values
    return values[..., :width]


def _width_block(block, x, lgate, cgate):
    """A C-gated block (batch 1) run at the width its gate needs: one
    conditional per width.

    A nested gate keeps a prefix of its groups, so the number of kept
    groups picks the width: every width has a conditional, or only its
    `prefix_widths` (those real images often need, `channel_order`),
    a width between them running the next wider one with the closed
    groups zeroed. A free gate whose channels come most-kept first
    (`channel_order`) runs the narrowest of its `prefix_widths` that
    holds its last kept channel, the closed channels inside masked.
    Each width's whole block (shortcut, a constant-weight residual of
    that width, ReLU) sits under its own conditional, side by side in
    the enclosing graph, and exactly one runs (none where the block gate
    skips). Measured on XNNPACK, conditionals nested inside the block's
    conditional cost about ten times more each than these side-by-side
    ones, whose untaken branches only pass their input on
    (tflite/README.md, "Where the time goes").

    Returns:
        `(outputs, decision (1, 2), width_run (1,))`: the width in
        groups (nested) or in `prefix_step`s (free).
    """
    keep, c_scale = cgate
    # Scales and masks as (1, 1, 1, C) out here: each branch only slices.
    scale = _channels(times_scale(keep, c_scale))
    gate = block.channel_gate
    mask = None
    step = width_step(block.filters, gate.groups, gate.nested)
    if gate.nested and gate.prefix_widths is None:
        widths = np.arange(block.filters // step + 1)
        count = index = tf.reshape(tf.reduce_sum(keep) / float(step), [])
    else:
        # A wider width than the kept one runs with the closed channels
        # zeroed: by their scale, and in a bottleneck's middle
        # convolution by this mask.
        mask = _channels(keep)
        if gate.nested:
            # The kept groups are a prefix: their count is the width.
            needed = tf.reduce_sum(keep) / float(step)
        else:
            # `keep @ after[:, s]` counts the kept channels in steps
            # >= s; the steps with any are those up to the last kept
            # channel's.
            after = (np.arange(block.filters) // step)[:, None] >= (
                np.arange(block.filters // step)
            )
            needed = tf.reduce_sum(
                tf.minimum(tf.matmul(keep, after.astype(np.float32)), 1.0)
            )
        widths = np.asarray(gate.prefix_widths) // step
        # Widths (in steps) are whole numbers: [needed > w] is
        # min(relu(needed - w), 1). The widths below the needed one
        # count the chosen width's index; their steps sum to its size.
        below = tf.minimum(tf.nn.relu(needed - widths[:-1]), 1.0)
        index = tf.reduce_sum(below)
        count = widths[0] + tf.reduce_sum(below * np.diff(widths))
    out_shape = _out_shape(block)
    # Once, outside the branches: every width and the skip use it.
    base = shortcut(block, x)
    if block.block_gate is None:
        run, block_scale = tf.ones([1, 1]), None
        # Every width is a branch; the first taken one replaces this.
        outputs = tf.zeros(out_shape)
    else:
        run, b_scale = lgate
        block_scale = _channels(times_scale(run, b_scale))
        outputs = skipped_output(block, x, base)
    # The kept width's index, or -1 where the block gate skips: one
    # EQUAL decides each width's conditional, and the arithmetic runs
    # once per block inside XNNPACK instead of once per width.
    run_value = tf.reshape(run, [])
    chosen = tf.floor(index + 0.5) * run_value + run_value - 1.0
    last_bias = tf.constant(block.convs[-1].bias)[None, None, None, :]

    def width_block(width):
        if width == 0:
            residual = tf.broadcast_to(last_bias, out_shape)
        else:
            residual = width_residual(block, x, width * step, scale, mask)
        if block_scale is not None:
            residual = residual * block_scale
        return tf.nn.relu(base + residual)

    widths = [int(width) for width in widths]
    if block.block_gate is None and len(widths) == 1:
        # One width that always runs: no conditional.
        outputs = width_block(widths.pop())
    elif block.block_gate is None and len(widths) == 2:
        # Two widths and no skip: one conditional picks either.
        first, second = widths
        outputs = tf.ensure_shape(
            tf.cond(
                tf.equal(chosen, 0.0),
                lambda: width_block(first),
                lambda: width_block(second),
            ),
            out_shape,
        )
        widths = []
    for i, width in enumerate(widths):
        outputs = tf.ensure_shape(
            tf.cond(
                tf.equal(chosen, float(i)),
                lambda width=width: width_block(width),
                lambda outputs=outputs: outputs,
            ),
            out_shape,
        )
    kept_share = tf.reduce_mean(keep, axis=-1, keepdims=True) * run
    return (
        outputs,
        tf.concat([run, kept_share], -1),
        tf.reshape(count * tf.reshape(run, []), [1]),
    )


def dynamic_block(block, x, chunks):
    """Runs only what the decisions keep (batch 1).

    Skipped blocks sit in the false branch of a conditional; with C-Net,
    each of `chunks` channel chunks sits under its own conditional, or
    each width of a nested gate or of a reordered free one
    (`prefix_widths`) under its own.

    Returns:
        `(outputs, decision (1, 2), chunks_run (1,))`.
    """

    # Both heads before the conditional: fused, they cost fewer ops than
    # the channel head alone inside it.
    lgate, cgate = block_gates(block, x)
    cgate_folded = block.channel_gate
    if cgate_folded is not None and (
        cgate_folded.nested or cgate_folded.prefix_widths is not None
    ):
        return _width_block(block, x, lgate, cgate)

    if block.block_gate is not None and (
        block.channel_gate is None or chunks == 1
    ):
        return _skippable_block(block, x, lgate, cgate)

    def run_body():
        # Blocks without a block gate, or with channel chunks.
        base = shortcut(block, x)
        if block.channel_gate is None:
            outputs = tf.nn.relu(base + full_body(block, x))
            return outputs, tf.ones([1, 1]), tf.ones([1])
        keep, c_scale = cgate
        kept = tf.reduce_mean(keep, axis=-1, keepdims=True)
        scale = times_scale(keep, c_scale)
        if chunks == 1:
            # One chunk: mask the channels, no inner conditional.
            residual = full_body(block, x, keep, scale)
            return tf.nn.relu(base + residual), kept, tf.ones([1])
        block_scale = None if lgate is None else times_scale(*lgate)
        total, count = _chunk_sum(
            block, x, keep, scale, chunks, base, block_scale
        )
        return tf.nn.relu(total), kept, tf.reshape(count, [1])

    if block.block_gate is None:
        outputs, kept, count = run_body()
        return outputs, tf.concat([tf.ones([1, 1]), kept], -1), count
    b_keep = lgate[0]
    outputs, kept, count = tf.cond(
        tf.cast(tf.reshape(b_keep, []), tf.bool),
        run_body,
        lambda: (skipped_output(block, x), tf.zeros([1, 1]), tf.zeros([1])),
    )
    # Shapes get lost through nested conditionals in the SavedModel.
    outputs = tf.ensure_shape(outputs, _out_shape(block))
    return outputs, tf.concat([b_keep, kept], -1), count


def _skippable_block(block, x, lgate, cgate):
    """A block under one conditional whose branch holds only the body.

    Every scale, mask and decision output is computed outside, next to
    the gate heads: a branch's ops and outputs cost more than the same
    ops in the enclosing graph (LiteRT sets up a branch's tensors each
    time it runs it; `tflite/README.md`, "Where the time goes").
    """
    b_keep, b_scale = lgate
    block_scale = _channels(times_scale(b_keep, b_scale))
    mask = scale = None
    kept = tf.ones([1, 1])
    if cgate is not None:
        keep, c_scale = cgate
        mask, scale = _channels(keep), _channels(times_scale(keep, c_scale))
        kept = tf.reduce_mean(keep, axis=-1, keepdims=True)

    # Outside the conditional: the body and the skip both use it.
    base = shortcut(block, x)

    def run_body():
        residual = full_body(block, x, mask, scale) * block_scale
        return tf.nn.relu(base + residual)

    skipped = skipped_output(block, x, base)
    outputs = tf.cond(
        tf.cast(tf.reshape(b_keep, []), tf.bool), run_body, lambda: skipped
    )
    # Shapes get lost through nested conditionals in the SavedModel.
    outputs = tf.ensure_shape(outputs, _out_shape(block))
    return (
        outputs,
        tf.concat([b_keep, kept * b_keep], -1),
        tf.reshape(b_keep, [1]),
    )


def _out_shape(block):
    height, width = block.keras_block.out_size
    return [1, height, width, block.keras_block.out_channels]
