"""The three deployment forms as TensorFlow functions over a folded model.

- masked: one function, any batch, computes everything and multiplies by
  the decisions. Every op is GPU-delegable.
- dynamic: one function, batch 1, skipped blocks and skipped channel
  chunks sit in conditionals (TFLite IF) and cost nothing.
- staged: one function per stage (stem, each block's gate and body,
  head); the host decides what to run.
"""

import numpy as np
import tensorflow as tf

from lcnet_tf.export import tf_ops
from lcnet_tf.export.channel_order import prefix_step
from lcnet_tf.export.gate_heads import block_gates
from lcnet_tf.export.manifest import width_signature

FORMS = ("masked", "dynamic", "staged")
# `channel_chunks` of a dynamic form whose free channel gates run a
# prefix of reordered channels (`channel_order`).
PREFIX = "prefix"


def check_form(form):
    if form not in FORMS:
        raise ValueError(
            f"`form` must be one of {FORMS}. Received: form={form!r}"
        )
    return form


def block_chunks(block, chunks=None):
    """How many channel chunks the dynamic form uses for a block.

    Each chunk of a C-gated block sits under its own conditional and runs
    when any of its channels is kept. Measured on LC-ResNet-20 with
    XNNPACK (benchmarks/results), chunk conditionals cost more than they
    save unless C-Net drops whole chunks, so the default is one chunk:
    channel decisions are applied as masks and block skipping saves the
    time.

    Args:
        block: a `FoldedBlock`.
        chunks: None (1 chunk), `"groups"` (one chunk per gate group, so
            executed FLOPs equal the decisions' FLOPs), an int, or
            `"prefix"` (free gates' channels reordered, most kept first,
            and run up to the last kept one in widths of `prefix_step`
            channels: "chunks run" counts those steps).

    Returns:
        int: 1 for blocks without C-Net.
    """
    if block.channel_gate is None:
        return 1
    groups = block.channel_gate.groups
    if block.channel_gate.nested:
        # One branch per width: "chunks run" counts the groups of the
        # width that ran.
        return block.filters // groups
    if chunks is None:
        return 1
    if chunks == PREFIX:
        return block.filters // prefix_step(
            block.filters, block.channel_gate.groups
        )
    if chunks == "groups":
        return block.filters // groups
    try:
        chunks = int(chunks)
    except (TypeError, ValueError):
        chunks = 0
    if (
        chunks < 1
        or block.filters % chunks
        or (block.filters // chunks) % (groups)
    ):
        raise ValueError(
            f"`channel_chunks={chunks}` does not split block "
            f"'{block.name}' ({block.filters} channels, gate groups of "
            f"{groups}) into equal chunks of whole gate groups. Use None, "
            f"'groups' or a divisor."
        )
    return chunks


def _image_spec(network, batch):
    return tf.TensorSpec(
        (batch,) + tuple(network.input_shape),
        tf.as_dtype(network.input_dtype),
        name="images",
    )


def masked_function(network, batch_size=None):
    """`images (batch, H, W, C) -> {"logits", "decisions"}`.

    `batch_size=None` accepts any batch; GPU delegates and LiteRT.js want
    a fixed one.
    """

    @tf.function(input_signature=[_image_spec(network, batch_size)])
    def masked(images):
        x = tf_ops.run_stem(network, images)
        decisions = []
        for block in network.blocks:
            x, decision = tf_ops.masked_block(block, x)
            if block.gated:
                decisions.append(decision)
        outputs = {"logits": tf_ops.run_head(network, x)}
        if decisions:
            outputs["decisions"] = tf.stack(decisions, axis=1)
        return outputs

    return masked


def dynamic_function(network, chunks=None):
    """`images (1, H, W, C) -> {"logits", "decisions", "chunks"}`.

    `chunks` is `(1, gated_blocks)`: how many channel chunks of each gated
    block ran (0 for a skipped block), from which `executed_flops` counts
    exactly what the graph computed. With `chunks="prefix"` the network's
    channel gates must already have their widths, a free gate's channels
    reordered (`reorder_channels`); `to_tflite` does that.
    """
    per_block = [block_chunks(block, chunks) for block in network.blocks]

    @tf.function(input_signature=[_image_spec(network, 1)])
    def dynamic(images):
        x = tf_ops.run_stem(network, images)
        decisions, counts = [], []
        for block, n in zip(network.blocks, per_block):
            if not block.gated:
                x, _ = tf_ops.masked_block(block, x)
                continue
            x, decision, count = tf_ops.dynamic_block(block, x, n)
            decisions.append(decision)
            counts.append(count)
        outputs = {"logits": tf_ops.run_head(network, x)}
        if decisions:
            outputs["decisions"] = tf.stack(decisions, axis=1)
            outputs["chunks"] = tf.stack(counts, axis=1)
        return outputs

    return dynamic


def staged_functions(network, fuse_gates=True):
    """One function per stage, keyed by signature name.

    Args:
        network: a `FoldedNetwork`.
        fuse_gates: bool. The stem and each body also return the next
            block's gate outputs (`next_...`, manifest `gate_fused`).

    Returns:
        `(functions, stages)`: a dict of `tf.function`s and the list of
        per-block stage descriptions the manifest records.
    """
    functions = {}

    blocks = network.blocks
    following = blocks[1:] + [None]
    if not fuse_gates:
        following = [None] * len(blocks)

    @tf.function(input_signature=[_image_spec(network, 1)])
    def stem(images):
        features = tf_ops.run_stem(network, images)
        first = blocks[0] if fuse_gates else None
        return _with_next_gate({"features": features}, first, features)

    functions["stem"] = stem
    stages = []
    x_spec = tf.TensorSpec(
        stem.get_concrete_function().structured_outputs["features"].shape,
        tf.float32,
        name="features",
    )
    for index, (block, after) in enumerate(zip(blocks, following)):
        stage, gate_fn, bodies, out_spec = _block_stage(
            index, block, x_spec, after, fused=fuse_gates
        )
        if gate_fn is not None:
            functions[stage["gate"]] = gate_fn
        functions.update(bodies)
        stages.append(stage)
        x_spec = out_spec

    @tf.function(input_signature=[x_spec])
    def head(features):
        return {"logits": tf_ops.run_head(network, features)}

    functions["head"] = head
    return functions, stages


def _gate_outputs(block, features):
    """What a block's gate signature returns."""
    outputs = {}
    lgate, cgate = block_gates(block, features)
    if lgate is not None:
        run, scale = lgate
        outputs["run"] = run
        # The body only runs where run is 1, so run stands in for the
        # scale of gates that have none.
        outputs["block_scale"] = run if scale is None else scale
    if cgate is not None:
        keep, scale = cgate
        outputs["channel_keep"] = keep
        outputs["channel_scale"] = tf_ops.times_scale(keep, scale)
    return outputs


def _with_next_gate(outputs, following, features):
    """Adds the following block's gate outputs (prefixed `next_`) to a
    stage that produced its input features: the host then reads the
    decisions from the call it made anyway, one signature call fewer per
    block (each call is a round trip on a GPU delegate)."""
    if following is not None and following.gated:
        for key, value in _gate_outputs(following, features).items():
            outputs[f"next_{key}"] = value
    return outputs


def _block_stage(index, block, x_spec, following=None, fused=True):
    name = f"block{index}"
    channels = block.filters
    gate_fn = None
    if block.gated:

        @tf.function(input_signature=[x_spec])
        def gate_fn(features):
            return _gate_outputs(block, features)

    specs = [x_spec]
    if block.channel_gate is not None:
        specs.append(tf.TensorSpec((1, channels), name="channel_scale"))
    if block.block_gate is not None:
        specs.append(tf.TensorSpec((1, 1), name="block_scale"))

    @tf.function(input_signature=specs)
    def body_fn(features, *scales):
        scales = list(scales)
        channel_scale = block_scale = None
        if block.channel_gate is not None:
            channel_scale = scales.pop(0)
        if block.block_gate is not None:
            block_scale = scales.pop(0)
        mask = None
        if channel_scale is not None:
            mask = _kept(channel_scale)
        residual = tf_ops.full_body(block, features, mask, channel_scale)
        if block_scale is not None:
            residual = residual * block_scale[:, :, None, None]
        outputs = tf.nn.relu(tf_ops.shortcut(block, features) + residual)
        return _with_next_gate({"features": outputs}, following, outputs)

    out_shape = body_fn.get_concrete_function().structured_outputs["features"]
    keras_block = block.keras_block
    stage = {
        "name": block.name,
        "gate": f"{name}_gate" if block.gated else None,
        # The stem or the previous block's bodies also return this gate's
        # outputs (`next_...`); the gate signature is for when the
        # previous block was skipped.
        "gate_fused": block.gated and fused,
        "body": f"{name}_body",
        "skippable": block.block_gate is not None,
        "channel_gated": block.channel_gate is not None,
        "channels": channels,
        # The gate signature runs every head of the block, even when the
        # block is then skipped.
        "flops": {
            "always": int(keras_block.skipped_flops()),
            "body": int(keras_block.body_flops(channels)),
        },
    }
    bodies = {f"{name}_body": body_fn}
    if block.block_gate is not None and block.shortcut is not None:
        # A skipped block that changes shape still runs its projection.
        stage["skip"] = f"{name}_skip"

        @tf.function(input_signature=[x_spec])
        def skip_fn(features):
            outputs = tf_ops.skipped_output(block, features)
            return _with_next_gate({"features": outputs}, following, outputs)

        bodies[stage["skip"]] = skip_fn
    widths, selection = _stage_widths(block)
    if widths:
        # The host runs the narrowest width that holds the last kept
        # channel: nothing is computed for the channels after it, on any
        # delegate.
        stage["channel_selection"] = selection
        stage["widths"], stage["flops"]["body_by_width"] = {}, {}
        for width in widths:
            signature = width_signature(f"{name}_body", width)
            bodies[signature] = _width_body(
                block, width, specs, following, masked=selection == PREFIX
            )
            stage["widths"][str(width)] = signature
            stage["flops"]["body_by_width"][str(width)] = int(
                keras_block.body_flops(width)
            )

    out_spec = tf.TensorSpec(out_shape.shape, tf.float32, name="features")
    return stage, gate_fn, bodies, out_spec


def _kept(channel_scale):
    """The kept channels' mask, from the scale the host passes a body:
    a closed channel's scale is 0."""
    return tf.cast(channel_scale != 0.0, tf.float32)


def _stage_widths(block):
    """The body widths a staged block offers, and how its gate picks one.

    A nested gate keeps a prefix of its groups: a body for every count
    of groups, from none to all (`"nested"`). A free gate whose channels
    were reordered, most often kept first (`channel_order`), keeps any
    subset, and the narrowest of its `prefix_widths` that holds its last
    kept channel runs with the closed channels inside it masked
    (`"prefix"`). Other blocks run their full body: `((), None)`.
    """
    gate = block.channel_gate
    if gate is None:
        return (), None
    if gate.nested:
        return tuple(range(0, block.filters + 1, gate.groups)), "nested"
    if gate.prefix_widths is not None and len(gate.prefix_widths) > 1:
        return tuple(int(w) for w in gate.prefix_widths), PREFIX
    return (), None


def _width_body(block, width, specs, following=None, masked=False):
    """The body over the first `width` middle channels only; `masked`:
    the closed channels inside them (a free gate's prefix) are zeroed
    where the scale alone would not zero them."""

    @tf.function(input_signature=specs)
    def body(features, channel_scale, *block_scale):
        base = tf_ops.shortcut(block, features)
        if width:
            mask = _kept(channel_scale) if masked else None
            residual = tf_ops.width_residual(
                block, features, width, channel_scale, mask
            )
        else:
            # No channel runs: only the last convolution's folded bias
            # (as MUL and ADD, which every delegate takes).
            residual = base * 0.0 + block.convs[-1].bias
        if block_scale:
            residual = residual * block_scale[0][:, :, None, None]
        outputs = tf.nn.relu(base + residual)
        return _with_next_gate({"features": outputs}, following, outputs)

    return body


def executed_flops(network, decisions, chunks_run, chunks=None):
    """Exact FLOPs a dynamic-form run computed, from its outputs.

    Args:
        network: the `FoldedNetwork` the form was built from.
        decisions: `(batch, gated_blocks, 2)` array.
        chunks_run: `(batch, gated_blocks)` array of chunks run per block.
        chunks: the `channel_chunks` the form was built with.

    Returns:
        int64 array `(batch,)`.
    """
    decisions = np.asarray(decisions)
    chunks_run = np.rint(np.asarray(chunks_run)).astype(np.int64)
    total = np.full((decisions.shape[0],), network.fixed_flops, np.int64)
    for i, block in enumerate(network.gated_blocks):
        keras_block = block.keras_block
        run = np.rint(decisions[:, i, 0]).astype(np.int64)
        n = block_chunks(block, chunks)
        kept = chunks_run[:, i] * (block.filters // n)
        if block.block_gate is None:
            run = np.ones_like(run)
        # The block's own cost of what ran (one home for the formula),
        # plus what chunking adds beyond the decisions.
        total += np.asarray(keras_block.flops_for(run, kept), np.int64)
        if (
            block.kind == "bottleneck"
            and block.channel_gate is not None
            and not block.channel_gate.nested
            and chunks != PREFIX
        ):
            # The 3x3 convolution of a kept chunk reads every channel.
            h, w = keras_block.out_size
            total += run * 9 * h * w * kept * (block.filters - kept)
    return total
