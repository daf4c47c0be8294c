"""A gated model's most frequent routing, frozen into a static network."""

import keras
import numpy as np

from lcnet_tf.flops import gated_blocks
from lcnet_tf.layers.gate_head import check_noise_std
from lcnet_tf.training.gate_decisions import block_input_batches
from lcnet_tf.training.gate_decisions import gate_decisions

# Keep logits this far from 0 decide the same way for any input and any
# exploration noise a training config could add.
_FROZEN_LOGIT = 30.0


def most_frequent_routing(model, images, batch_size=256):
    """The routing (every gate's decisions) most images take.

    Args:
        model: a gated model built by lcnet_tf.
        images: float array `(n, height, width, channels)`, normalised.
        batch_size: int. Inference batch size.

    Returns:
        `(routing, share)`: a dict from block name to `{"run": 0 or 1,
        "channels": int8 array (channel_gates,)}` (as `gate_decisions`
        gives per image), and the share of images that take it.

    Example:

    ```python
    routing, share = most_frequent_routing(model, x_test)
    ```
    """
    decisions = gate_decisions(model, images, batch_size=batch_size)
    names = list(decisions)
    codes = np.concatenate(
        [
            np.concatenate([part["run"][:, None], part["channels"]], axis=1)
            for part in decisions.values()
        ],
        axis=1,
    )
    patterns, counts = np.unique(codes, axis=0, return_counts=True)
    top = patterns[int(np.argmax(counts))]
    routing, column = {}, 0
    for name in names:
        width = decisions[name]["channels"].shape[1]
        routing[name] = {
            "run": int(top[column]),
            "channels": top[column + 1 : column + 1 + width].astype(np.int8),
        }
        column += 1 + width
    return routing, float(counts.max() / len(codes))


def freeze_routing(
    model, routing, images=None, unit_scales=False, per_image_scales=False
):
    """Fixes every gate of `model` to one routing, in place.

    The result is a static pruned network written as a gated one: each
    gate's keep logits ignore the input and decide as `routing` says, its
    learned scale becomes a constant (the mean over `images`, when
    given), and the gate heads stop training. Exact FLOPs, exports and
    evaluation work unchanged; fine-tuning it with the same epochs as a
    gated row separates what per-image routing buys from what pruning
    buys.

    Args:
        model: a gated model built by lcnet_tf.
        routing: dict as `most_frequent_routing` returns. A skipped
            block's channel decisions do not matter.
        images: float array or None. Images over which each learned
            scale is averaged (None keeps the scale head's bias alone).
        unit_scales: bool. Make every learned scale exactly 1 instead,
            for a body about to be reset to a static network's weights
            (`init_from_static`), whose outputs were never scaled.
        per_image_scales: bool. Fix the decisions alone: each learned
            scale still comes from its image, so the model differs from
            the gated one only where an image took another routing
            (`routing_value`).

    Returns:
        The model.
    """
    if unit_scales and per_image_scales:
        raise ValueError(
            "`unit_scales` and `per_image_scales` exclude each other: "
            "a learned scale is either 1 or its image's."
        )
    blocks = {block.name: block for block in gated_blocks(model)}
    missing = sorted(set(blocks) - set(routing))
    if missing:
        raise ValueError(
            f"`routing` has no decisions for the gated blocks {missing}."
        )
    hidden = {}
    if images is not None and not (unit_scales or per_image_scales):
        hidden = _mean_hidden(model, blocks, images)
    for name, block in blocks.items():
        decision = routing[name]
        if block.block_gate is not None:
            _fix(
                block.block_gate,
                [decision["run"]],
                hidden.get((name, 0)),
                unit_scales,
                per_image_scales,
            )
        if block.channel_gate is not None:
            channels = np.asarray(decision["channels"])
            if channels.shape != (block.channel_gate.units,):
                raise ValueError(
                    f"Block '{name}' has {block.channel_gate.units} channel "
                    f"gates; `routing` gives {channels.shape}."
                )
            _fix(
                block.channel_gate,
                channels,
                hidden.get((name, 1)),
                unit_scales,
                per_image_scales,
            )
    return model


def _mean_hidden(model, blocks, images, batch_size=256):
    """Mean hidden activation of each gate head over `images`."""
    sums = {}
    for features in block_input_batches(
        model, list(blocks.values()), images, batch_size
    ):
        for (name, block), x in zip(blocks.items(), features):
            pooled = keras.ops.mean(x, axis=(1, 2))
            for index, gate in enumerate(
                (block.block_gate, block.channel_gate)
            ):
                if gate is not None:
                    hidden = keras.ops.convert_to_numpy(gate.hidden(pooled))
                    hidden = hidden.astype(np.float64)
                    total = sums.get((name, index), 0.0)
                    sums[(name, index)] = total + hidden.sum(axis=0)
    return {key: total / len(images) for key, total in sums.items()}


def _fix(gate, keep, mean_hidden, unit_scales, per_image_scales):
    keep = np.asarray(keep, np.float32)
    kernel = gate.keep_logits.kernel
    kernel.assign(np.zeros(kernel.shape, np.float32))
    gate.keep_logits.bias.assign(np.where(keep > 0, 1.0, -1.0) * _FROZEN_LOGIT)
    if gate.scale == "learned" and not per_image_scales:
        scale = gate.scale_logits
        bias = scale.bias.numpy()
        if unit_scales:
            # 2 * sigmoid(0) = 1.
            bias = np.zeros_like(bias)
        elif mean_hidden is not None:
            bias = bias + mean_hidden @ scale.kernel.numpy()
        scale.kernel.assign(np.zeros(scale.kernel.shape, np.float32))
        scale.bias.assign(bias.astype(np.float32))
    gate.noise_std = 0.0
    gate.trainable = False


def learn_frozen_scales(model):
    """Lets a frozen routing's learned scales train again, in place.

    After `freeze_routing` the decisions stay fixed (their keep layers
    keep constant logits and do not train), while each gate's hidden
    and scale layers train: every image takes the same routing but
    scales what it keeps, LC-Net's per-image scaling on a pruned
    network.

    Args:
        model: a model `freeze_routing` fixed.

    Returns:
        The model.

    Example:

    ```python
    freeze_routing(model, routing, unit_scales=True)
    learn_frozen_scales(model)  # scales start at 1 and learn per image
    ```
    """
    gates = [gate for block in gated_blocks(model) for gate in block.gates]
    learned = [gate for gate in gates if gate.scale == "learned"]
    if not learned:
        raise ValueError(
            f"Model '{model.name}' has no learned scales to train."
        )
    for gate in learned:
        gate.trainable = True
        gate.keep_logits.trainable = False
    return model


def fix_gates(model, regularizer=None):
    """Stops the gates of a trained gated model from learning, in place.

    Unlike `freeze_routing`, each gate still decides per image; it keeps
    its weights and now decides in training as in inference (no
    exploration noise or Gumbel sampling). Fine-tuning the result trains
    the body for exactly the routing inference takes, which the gates
    chose while they were learning.
    The FLOPs budget stays: the gates read the body's features, so as
    the body trains their decisions drift, and the budget term (through
    the straight-through gradient into those features) holds the FLOPs
    at the target (measured without it: ratio 0.65 -> 0.75 in one
    epoch). For the same reason the body, trained for the mean FLOPs
    alone, can narrow the per-image spread of decisions; a
    `regularizer` keeps its keep-rate bounds and batch-shaping on the
    fixed gates, so that they act on the body's features instead.

    Args:
        model: a gated model built by lcnet_tf.
        regularizer: `GateRegularizer` or None. None: the gates add no
            regularizer loss. Otherwise it replaces the gates' own; the
            gates must have been built with one (it holds the training
            progress that `GateSchedule` sets).

    Returns:
        The model.

    Example:

    ```python
    model = fix_gates(load_model("runs/lc/model.keras", compile=False))
    model.compile(...)
    model.fit(...)  # trains the body only
    ```
    """
    blocks = gated_blocks(model)
    if not blocks:
        raise ValueError(
            f"Model '{model.name}' has no gates to fix: it is not gated."
        )
    gates = [gate for block in blocks for gate in block.gates]
    set_gates_learning(gates, False, 0.0, regularizer)
    return model


def release_routing(model, noise_std=0.0, regularizer=None):
    """Lets a frozen routing's gates learn to decide per image, in place.

    The inverse of `freeze_routing`: a pruned network trained on one
    routing becomes a gated one again, starting from that routing. Each
    gate's keep logits keep their zero kernel (so every image still
    takes the frozen routing) but their bias comes back to a fresh
    gate's `init_keep_logit`, where the straight-through gradient is no
    longer zero; the gate heads train again, with exploration noise and
    a regularizer if given. Fine-tuned with a FLOPs budget below the
    routing's own, the gates learn which images can skip more ("prune,
    then route").

    Args:
        model: a gated model whose gates `freeze_routing` fixed (e.g. a
            frozen-routing row's `model.keras`).
        noise_std: float >= 0. Exploration noise of the released gates.
        regularizer: `GateRegularizer` or None. Replaces the gates' own
            (which must exist: it holds the training progress); None
            turns their bounds and batch-shaping off.

    Returns:
        The model.

    Example:

    ```python
    model = release_routing(load_model("runs/frozen/model.keras"), 0.5)
    set_budget(model, 0.6)
    model.compile(...)
    model.fit(...)  # gates and body learn, from the frozen routing
    ```
    """
    noise_std = check_noise_std(noise_std)
    blocks = gated_blocks(model)
    gates = [gate for block in blocks for gate in block.gates]
    # Read from the weights: a saved model does not keep `trainable`.
    free = [gate.name for gate in gates if not is_frozen_gate(gate)]
    if not gates or free:
        raise ValueError(
            f"Model '{model.name}' has no frozen routing to release: "
            + (
                f"these gates decide per image: {', '.join(free)} "
                "(freeze_routing fixes every gate)."
                if gates
                else "it has no gates."
            )
        )
    for gate in gates:
        bias = gate.keep_logits.bias
        kept = keras.ops.convert_to_numpy(bias) > 0
        bias.assign(
            np.where(kept, 1.0, -1.0).astype(np.float32) * gate.init_keep_logit
        )
    set_gates_learning(gates, True, noise_std, regularizer)
    return model


def is_frozen_gate(gate):
    """Whether `freeze_routing` fixed this gate's keep logits."""
    kernel = keras.ops.convert_to_numpy(gate.keep_logits.kernel)
    bias = keras.ops.convert_to_numpy(gate.keep_logits.bias)
    return not kernel.any() and bool((np.abs(bias) >= _FROZEN_LOGIT).all())


def set_gates_learning(gates, learning, noise_std, regularizer):
    """Sets whether `gates` learn (with exploration noise and sampled
    decisions) or hold their decisions, and replaces their regularizers
    (`replace_regularizers`); the one place `fix_gates`, `tune_gates`
    and `release_routing` set it."""
    replace_regularizers(gates, regularizer)
    for gate in gates:
        gate.trainable = learning
        gate.noise_std = noise_std
        # Not config: a reloaded model samples again if trained again.
        gate.sampling = learning


def replace_regularizers(gates, regularizer):
    """Puts `regularizer` in place of each gate's own (which holds the
    training progress, so it must exist); None turns the gates' own
    bounds and batch-shaping off."""
    if regularizer is not None:
        bare = [gate.name for gate in gates if gate.regularizer is None]
        if bare:
            raise ValueError(
                "`regularizer` needs gates trained with a regularizer; "
                f"these have none: {', '.join(bare)}"
            )
    for gate in gates:
        if regularizer is not None:
            gate.regularizer = regularizer
        elif gate.regularizer is not None:
            gate.regularizer.bounds_weight = 0.0
            gate.regularizer.shaping_weight = 0.0
