"""Where a gated model's time goes: one export per part of the gates.

With every gate open a gated network computes what its static twin does
plus, per gated block, four things: LC-Net's per-image scales on feature
maps (the channel scale on the first convolution's output, the block
scale on the residual), the gate's global average pool of the block's
input, the gate heads' arithmetic on the pooled vector, and (in the
dynamic form) the conditional around the body. `overhead_exports` writes
a ladder of batch-1 exports of one trained model's folded weights, each
adding one of those parts to the last, so timing them side by side (at
each thread count) shows what each part costs and what no export of the
model can go below: the scales and the pooling are what LC-Net computes.

    paths = overhead_exports(model, "/tmp/ladder", calibration)
    # {"static": ..., "scales": ..., "scales_pool": ..., "masked_open":
    #  ..., "dynamic_open": ..., "dynamic": ...}
"""

import os

import numpy as np

# The ladder's rungs, each adding one part of the gates to the last.
RUNGS = (
    "static",
    "scales",
    "scales_pool",
    "masked_open",
    "dynamic_open",
    "dynamic",
)


def scale_sizes(network):
    """Per block, `(channel scale values, block scale values)`.

    Args:
        network: a `FoldedNetwork`.

    Returns:
        list of `(int, int)`: the block's channels if it has a channel
        gate (else 0), and 1 if it has a block gate (else 0).
    """
    return [
        (
            block.filters if block.channel_gate is not None else 0,
            1 if block.block_gate is not None else 0,
        )
        for block in network.blocks
    ]


def ladder_function(network, scales=True, pool=False):
    """The folded network with only some parts of its gates, batch 1.

    Args:
        network: a `FoldedNetwork`.
        scales: bool. Multiply each gated block's maps by per-image
            scales, given as the second input `scales` (one row holding
            every block's values in `scale_sizes` order), as LC-Net does:
            the channel scale on the middle channels, the block scale on
            the residual. False: the static twin.
        pool: bool. Also pool each gated block's input as its gate does,
            the pooled vector feeding the scales (with a weight too small
            to matter) so that the converter keeps it.

    Returns:
        `tf.function`: `images[, scales] -> {"logits"}`.
    """
    import tensorflow as tf

    from lcnet_tf.export import tf_ops
    from lcnet_tf.export.gate_heads import pool as gate_pool

    sizes = scale_sizes(network)
    specs = [
        tf.TensorSpec(
            (1, *network.input_shape),
            tf.as_dtype(network.input_dtype),
            name="images",
        )
    ]
    if scales:
        specs.append(
            tf.TensorSpec((1, sum(a + b for a, b in sizes)), name="scales")
        )

    def blocks(x, values):
        offset = 0
        for block, (channels, runs) in zip(network.blocks, sizes):
            if pool and block.gated:
                pooled = tf.reduce_sum(gate_pool(x), axis=-1, keepdims=True)
                values = values + 1e-9 * pooled
            channel = block_scale = None
            if values is not None and channels:
                channel = values[:, offset : offset + channels]
            offset += channels
            if values is not None and runs:
                block_scale = values[:, offset : offset + 1]
            offset += runs
            # A bottleneck block's gate multiplies two maps, as here.
            mask = None if block.kind == "basic" else channel
            residual = tf_ops.full_body(block, x, mask, channel)
            if block_scale is not None:
                residual = residual * tf.reshape(block_scale, [1, 1, 1, 1])
            x = tf.nn.relu(tf_ops.shortcut(block, x) + residual)
        return x

    @tf.function(input_signature=specs)
    def ladder(images, *values):
        x = tf_ops.run_stem(network, images)
        x = blocks(x, values[0] if values else None)
        return {"logits": tf_ops.run_head(network, x)}

    return ladder


def overhead_exports(model, directory, calibration=None):
    """Writes the ladder's exports of a trained gated model.

    `static` (its folded convolutions alone), `scales` (+ per-image
    scales on maps), `scales_pool` (+ each gate's pooling), `masked_open`
    (the masked form, every gate open: + the heads' arithmetic),
    `dynamic_open` (the dynamic form, every gate open: + conditionals)
    and `dynamic` (its own routing). With channel gates and
    `calibration` images the dynamic forms run planned widths
    (`channel_chunks="prefix"`), as the project's benchmarks time them.
    The model's thresholds are left as they were.

    Args:
        model: a trained gated Keras model.
        directory: str. Where the `.tflite` files go.
        calibration: normalised images for the width plan, or None.

    Returns:
        dict rung -> path, in `RUNGS` order.
    """
    from lcnet_tf.export.channel_order import has_channel_gates
    from lcnet_tf.export.folding import fold_model
    from lcnet_tf.export.tflite_exporter import _convert
    from lcnet_tf.export.tflite_exporter import to_tflite
    from lcnet_tf.models.gate_controls import kept_thresholds
    from lcnet_tf.models.gate_controls import set_threshold

    network = fold_model(model)
    if not network.gated_blocks:
        raise ValueError(f"Model '{model.name}' has no gates to measure.")
    os.makedirs(directory, exist_ok=True)
    paths = {}
    ladder = {
        "static": {"scales": False},
        "scales": {},
        "scales_pool": {"pool": True},
    }
    for rung, options in ladder.items():
        path = os.path.join(directory, f"{rung}.tflite")
        function = ladder_function(network, **options)
        with open(path, "wb") as f:
            f.write(_convert({"serving_default": function}, None, None))
        paths[rung] = path
    dynamic = {"form": "dynamic"}
    if calibration is not None and has_channel_gates(network):
        dynamic.update(channel_chunks="prefix", representative_data=calibration)

    def export(rung, **options):
        path = os.path.join(directory, f"{rung}.tflite")
        paths[rung] = to_tflite(model, path, **options).path

    with kept_thresholds(model):
        set_threshold(model, 0.0)
        export("masked_open", form="masked", batch_size=1)
        export("dynamic_open", **dynamic)
    export("dynamic", **dynamic)
    return {rung: paths[rung] for rung in RUNGS}


def ladder_runner(path, num_threads=1, seed=0):
    """A callable that runs one of `overhead_exports`' files on an image.

    Args:
        path: str. The `.tflite` file.
        num_threads: int. XNNPACK threads.
        seed: int. For the per-image scale values a `scales` rung takes
            (fixed, in [0.5, 1.5]; time does not depend on them).

    Returns:
        callable `(1, H, W, C) array -> dict of outputs`.
    """
    from lcnet_tf.export.interpreter import load_interpreter

    runner = load_interpreter(
        path, num_threads=num_threads
    ).get_signature_runner()
    details = runner.get_input_details()
    fixed = {}
    if "scales" in details:
        rng = np.random.default_rng(seed)
        fixed["scales"] = rng.uniform(
            0.5, 1.5, details["scales"]["shape"]
        ).astype(np.float32)
    return lambda images: runner(images=images, **fixed)
