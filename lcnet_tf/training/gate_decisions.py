"""Every gate's hard decision per image, in inference or training mode."""

import contextlib

import keras
import numpy as np

from lcnet_tf.flops import count_flops
from lcnet_tf.flops import flops_from_decisions
from lcnet_tf.flops import gated_blocks
from lcnet_tf.validation import check_model_images


def block_inputs_model(model, blocks):
    """A model from images to the inputs of `blocks` (what gates read)."""
    return keras.Model(
        model.inputs[0],
        [block.input for block in blocks],
        name=f"{model.name}_gate_inputs",
    )


def block_input_batches(model, blocks, images, batch_size, training=False):
    """Yields, batch by batch, the list of `blocks`' inputs for `images`.

    One batch of feature maps at a time: those of every image at once
    fill gigabytes for 10,000 CIFAR images.
    """
    features_model = block_inputs_model(model, blocks)
    for start in range(0, len(images), int(batch_size)):
        batch = images[start : start + int(batch_size)]
        features = features_model(batch, training=bool(training))
        yield [features] if len(blocks) == 1 else list(features)


@contextlib.contextmanager
def _frozen_state(model):
    """Restores every non-trainable variable (batch-norm moving averages,
    seed generators) on exit, so a training-mode pass leaves no trace."""
    variables = model.non_trainable_variables
    saved = [keras.ops.convert_to_numpy(v) for v in variables]
    try:
        yield
    finally:
        for variable, value in zip(variables, saved):
            variable.assign(value)


def gate_decisions(model, images, training=False, batch_size=128):
    """The 0/1 decision of every gate of a gated model, per image.

    In inference mode (`training=False`) these are the decisions that
    `predict` and every export take. In training mode the batch norms
    normalise with the statistics of each batch of `batch_size` images,
    as in `fit`, but without exploration noise and without touching the
    moving averages, so the two modes can be compared.

    Channel decisions of a block whose L-Net gate skips it are set to 0:
    C-Net runs only inside kept blocks.

    Args:
        model: a gated model built by lcnet_tf.
        images: float array `(n, height, width, channels)`, normalised.
        training: bool. Which batch-norm mode the gates read.
        batch_size: int. Images per batch (matters in training mode).

    Returns:
        A dict from block name to `{"run": int8 (n,), "channels": int8
        (n, channel_gates)}`; `"channels"` has zero columns without C-Net
        and `"run"` is all ones without L-Net.

    Example:

    ```python
    decisions = gate_decisions(model, x_test[:512])
    decisions["stage1_block2"]["run"].mean()  # keep rate of that block
    ```
    """
    blocks = gated_blocks(model)
    if not blocks:
        raise ValueError(f"Model '{model.name}' has no gates.")
    images = check_model_images(model, images)
    if int(batch_size) < 1:
        raise ValueError(f"`batch_size` must be >= 1. Received: {batch_size}")
    parts = {block.name: {"run": [], "channels": []} for block in blocks}
    gates = [_BlockGates(block) for block in blocks]
    state = _frozen_state(model) if training else contextlib.nullcontext()
    with state:
        for features in block_input_batches(
            model, blocks, images, batch_size, training
        ):
            for block, heads, x in zip(blocks, gates, features):
                _append_block(
                    parts[block.name], block, heads, x, int(x.shape[0])
                )
    return {
        name: {key: np.concatenate(value) for key, value in part.items()}
        for name, part in parts.items()
    }


def _append_block(part, block, gates, features, batch):
    outputs = {
        kind: keras.ops.convert_to_numpy(value)
        for kind, value in gates(features).items()
    }
    run, channels = _block_codes(block, outputs, batch)
    part["run"].append(run)
    part["channels"].append(channels)


def _block_codes(block, outputs, batch):
    """A block's 0/1 run and channel-group decisions from its gates'
    outputs (`outputs["run"]`, `outputs["channels"]`, where it has
    those gates)."""
    run = np.ones((batch,), np.int8)
    if "run" in outputs:
        run = np.rint(outputs["run"][:, 0]).astype(np.int8)
    channels = np.zeros((batch, 0), np.int8)
    if "channels" in outputs:
        # One column per decision (per group of channels), not per channel.
        groups = block.channel_gate.groups
        channels = np.rint(outputs["channels"][:, ::groups]).astype(np.int8)
        channels = channels * run[:, None]
    return run, channels


def gate_outputs(model):
    """Every gate's decision on its block's input, as symbolic tensors.

    Passed as `extra_outputs` to `lcnet_tf.flops.batches_with_flops`,
    they come from the pass that gives the logits and FLOPs, so a
    routing costs no second run of the network; `decisions_of` reads
    them as `gate_decisions` does.

    Args:
        model: a gated functional model built by lcnet_tf.

    Returns:
        A dict from block name to a dict with `"run"` and `"channels"`
        (for the gates the block has): tensors of `model`'s graph.
    """
    return {
        block.name: _BlockGates(block)(block.input)
        for block in gated_blocks(model)
    }


class _BlockGates(keras.layers.Layer):
    """A block's gates called on its input, in inference mode.

    The gate heads hold no batch norm, so `training` would only add
    exploration noise. A layer of its own, with a name of its own: a
    functional model's operations need unique names, and every block
    calls its gates `block_gate` and `channel_gate`.
    """

    def __init__(self, block, **kwargs):
        super().__init__(name=f"{block.name}_gate_outputs", **kwargs)
        self.gates = {
            kind: gate
            for kind, gate in (
                ("run", block.block_gate),
                ("channels", block.channel_gate),
            )
            if gate is not None
        }

    def call(self, inputs):
        return {
            kind: gate(inputs, training=False)[0]
            for kind, gate in self.gates.items()
        }


def decisions_of(model, outputs):
    """`gate_decisions`' dict from one batch of `gate_outputs`' arrays.

    Args:
        model: the gated model.
        outputs: arrays in `gate_outputs`' structure.

    Returns:
        A dict from block name to `{"run": int8 (batch,), "channels":
        int8 (batch, channel_gates)}`.
    """
    decisions = {}
    for block in gated_blocks(model):
        mine = outputs[block.name]
        batch = len(next(iter(mine.values())))
        run, channels = _block_codes(block, mine, batch)
        decisions[block.name] = {"run": run, "channels": channels}
    return decisions


def decisions_flops(model, decisions):
    """Exact per-image FLOPs of `gate_decisions`' output.

    Args:
        model: the gated model the decisions come from.
        decisions: the dict `gate_decisions` returned.

    Returns:
        int64 array `(n,)`.
    """
    pairs = []
    for block in gated_blocks(model):
        part = decisions[block.name]
        if part["channels"].shape[1]:
            kept = part["channels"].mean(axis=1)
        else:
            kept = np.ones_like(part["run"], dtype=np.float64)
        pairs.append(np.stack([part["run"], kept], axis=1))
    return flops_from_decisions(model, pairs)


def decision_agreement(model, images, batch_size=128):
    """How often a gated model decides alike in training and inference.

    `fit` trains and meets its budget with batch statistics; `predict`
    and every export decide with the batch-norm moving averages. Where
    those differ, decisions near the threshold flip and the deployed
    model neither costs nor routes what training saw.

    Args:
        model: a gated model built by lcnet_tf.
        images: float array `(n, height, width, channels)`, normalised
            (e.g. training images, as `fit` sees them).
        batch_size: int. Batch size of the training-mode pass (use the
            training batch size).

    Returns:
        A dict: `agreement` (share of all per-image gate decisions that
        are equal in both modes), `block_agreement` (block-run decisions
        only; None without L-Net), `routing_agreement` (share of images
        whose every decision agrees), `flops_ratio_training` and
        `flops_ratio_inference` (mean FLOPs over the static network's).

    Example:

    ```python
    report = decision_agreement(model, x_train[:1024])
    assert report["agreement"] > 0.95
    ```
    """
    train = gate_decisions(model, images, training=True, batch_size=batch_size)
    infer = gate_decisions(model, images, training=False, batch_size=256)
    equal, block_equal, image_equal = [], [], None
    for name, part in infer.items():
        for key in ("run", "channels"):
            same = part[key] == train[name][key]
            if key == "run" and model.get_layer(name).block_gate is not None:
                block_equal.append(same)
            if same.ndim == 1:
                same = same[:, None]
            if same.shape[1]:
                equal.append(same)
                whole = same.all(axis=1)
                image_equal = (
                    whole if image_equal is None else image_equal & whole
                )
    equal = np.concatenate(equal, axis=1)
    static = count_flops(model, gates=False)
    return {
        "num_images": int(len(equal)),
        "agreement": float(equal.mean()),
        "block_agreement": (
            float(np.stack(block_equal, 1).mean()) if block_equal else None
        ),
        "routing_agreement": float(image_equal.mean()),
        "flops_ratio_training": float(
            decisions_flops(model, train).mean() / static
        ),
        "flops_ratio_inference": float(
            decisions_flops(model, infer).mean() / static
        ),
    }
