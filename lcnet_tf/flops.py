"""Exact FLOPs accounting for the models built by lcnet_tf.

Convention of the dynamic-inference literature: one multiply-accumulate is
one FLOP. Convolutions, dense layers and the gate heads count; batch norm
is folded into the convolutions and ReLU, additions and pooling are left
out.
"""

import keras
import numpy as np

from lcnet_tf.layers.flops_budget import FlopsBudget
from lcnet_tf.layers.gated_residual_block import GatedResidualBlock
from lcnet_tf.validation import check_model_images

# Layers with weights that cost nothing under the convention.
_FREE_WEIGHTED_LAYERS = (
    keras.layers.BatchNormalization,
    keras.layers.Normalization,
    FlopsBudget,
)


def _conv_flops(layer):
    height, width, out_channels = layer.output.shape[1:]
    if height is None or width is None:
        raise ValueError(
            f"Layer '{layer.name}' has no fixed spatial output size; FLOPs "
            f"need a model built for a fixed input size."
        )
    kh, kw, in_per_group, _ = layer.kernel.shape
    return int(kh * kw * in_per_group * out_channels * height * width)


def layer_flops(layer, gates=True):
    """Static FLOPs of one layer of a model built by lcnet_tf.

    Args:
        layer: a built Keras layer, called once in a functional model.
        gates: bool. For gated blocks: True counts every gate open, gate
            heads included; False counts the static block only.

    Returns:
        int.

    Raises:
        ValueError: for a layer with weights whose cost is not known.
    """
    if isinstance(layer, GatedResidualBlock):
        return int(layer.open_flops() if gates else layer.base_flops())
    if isinstance(layer, keras.Model):
        return sum(layer_flops(sub, gates) for sub in layer.layers)
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        height, width, channels = layer.output.shape[1:]
        kh, kw = layer.kernel.shape[:2]
        return int(kh * kw * channels * height * width)
    if isinstance(layer, keras.layers.Conv2D):
        return _conv_flops(layer)
    if isinstance(layer, keras.layers.Dense):
        return int(np.prod(layer.kernel.shape))
    if isinstance(layer, _FREE_WEIGHTED_LAYERS) or not layer.weights:
        return 0
    raise ValueError(
        f"Cannot count FLOPs of layer '{layer.name}' "
        f"({layer.__class__.__name__}): it has weights but is not a "
        f"convolution, dense layer, batch norm or lcnet_tf block."
    )


def count_flops(model, gates=True):
    """Static FLOPs of a model for one image.

    Args:
        model: a built functional model (e.g. from `cifar_resnet`).
        gates: bool. True: every gate open, gate heads included (the
            worst case of a gated model). False: the static network
            without gates, the denominator of every FLOPs ratio.

    Returns:
        int.

    Example:

    ```python
    count_flops(lcnet_tf.models.cifar_resnet(20))  # 40,813,184
    ```
    """
    return sum(layer_flops(layer, gates) for layer in model.layers)


def gated_blocks(model):
    """The blocks of `model` that carry gates, in graph order."""
    return [
        layer
        for layer in model.layers
        if isinstance(layer, GatedResidualBlock) and layer.gates
    ]


def model_gates(model):
    """Every gate head of `model` (or of a distiller's student), in order."""
    model = getattr(model, "student", model)
    return [gate for block in gated_blocks(model) for gate in block.gates]


def _logits(model):
    """The logits tensor, taken before a `FlopsBudget` layer if any."""
    last = model.layers[-1]
    if isinstance(last, FlopsBudget):
        return last.input[0]
    return model.outputs[0]


def inference_model(model):
    """The model without its `FlopsBudget` layer, sharing its weights.

    The budget layer only adds the training loss and updates metrics; an
    inference or export graph built from this model has no metric state.

    Args:
        model: a model built by lcnet_tf.

    Returns:
        A `keras.Model` from images to logits.
    """
    if not isinstance(model.layers[-1], FlopsBudget):
        return model
    return keras.Model(model.inputs, _logits(model), name=model.name)


def decision_model(model, extra_outputs=None):
    """A model giving logits and every gated block's decisions.

    Args:
        model: a gated functional model.
        extra_outputs: None, or a dict (nested dicts allowed) of
            symbolic tensors of `model`'s graph to return too (under
            `"extra"`), from the same pass.

    Returns:
        A `keras.Model` sharing `model`'s weights, returning
        `{"logits": (batch, classes), "decisions": [(batch, 2), ...]}`,
        one `[block_run, kept_channel_fraction]` pair per gated block.
    """
    blocks = gated_blocks(model)
    outputs = {
        "logits": _logits(model),
        "decisions": [block.output[2] for block in blocks],
    }
    if extra_outputs:
        outputs["extra"] = extra_outputs
    return keras.Model(model.inputs, outputs, name=f"{model.name}_decisions")


def fixed_flops(model, blocks=None):
    """FLOPs every image runs whatever the gates decide.

    Everything outside the gated blocks (stem, ungated blocks, head): the
    model's FLOPs with every gate open, less each gated block's
    (`GatedResidualBlock.open_flops`). A gated block's own cost, for any
    decisions, is `block.flops_for(run, kept)`.

    Args:
        model: a model built by lcnet_tf.
        blocks: its gated blocks, or None to find them.

    Returns:
        int.
    """
    blocks = gated_blocks(model) if blocks is None else blocks
    return int(count_flops(model) - sum(b.open_flops() for b in blocks))


def flops_from_decisions(model, decisions):
    """Exact per-image FLOPs from the gated blocks' decisions.

    Args:
        model: the gated model the decisions come from.
        decisions: list of `(batch, 2)` arrays from `decision_model`.

    Returns:
        int64 array `(batch,)`.
    """
    blocks = gated_blocks(model)
    if len(decisions) != len(blocks):
        raise ValueError(
            f"Expected decisions for {len(blocks)} gated blocks, received "
            f"{len(decisions)}."
        )
    last = model.layers[-1]
    if isinstance(last, FlopsBudget):
        # Counted once when the model was built; evaluation calls this
        # per batch.
        fixed = last.fixed_flops
    else:
        fixed = fixed_flops(model, blocks)
    batch = len(decisions[0]) if decisions else 0
    total = np.full((batch,), fixed, dtype=np.int64)
    for block, decision in zip(blocks, decisions):
        decision = np.asarray(decision, dtype=np.float64)
        run = np.rint(decision[:, 0]).astype(np.int64)
        kept = np.rint(decision[:, 1] * block.filters).astype(np.int64)
        total += np.asarray(block.flops_for(run, kept), dtype=np.int64)
    return total


def batches_with_flops(model, batches, extra_outputs=None):
    """Runs a model batch by batch: logits, decisions and exact FLOPs.

    One pass per batch: a gated model's logits and decisions come from the
    same `decision_model` call. Every batch is checked (shape, dtype, NaN)
    before it runs.

    Args:
        model: a model built by lcnet_tf (gated or static).
        batches: iterable of float arrays `(batch, height, width,
            channels)`, normalised.
        extra_outputs: None, or (for a gated model) a dict (nested
            dicts allowed) of symbolic tensors of `model`'s graph,
            computed in the same pass (`decision_model`).

    Yields:
        A dict per batch: `images` (the checked batch), `logits`
        `(batch, classes)`, `decisions` (list of `(batch, 2)` arrays, one
        per gated block; empty for a static model) and `flops` (int64
        `(batch,)`), and with `extra_outputs` `extra` (arrays in the
        same structure).

    Example:

    ```python
    for out in batches_with_flops(model, np.array_split(x_test, 20)):
        print(out["flops"].mean())
    ```
    """
    gated = bool(gated_blocks(model))
    if extra_outputs and not gated:
        raise ValueError(
            f"`extra_outputs` needs a gated model; '{model.name}' has no gates."
        )
    runner = (
        decision_model(model, extra_outputs)
        if gated
        else inference_model(model)
    )
    static = None if gated else count_flops(model)
    for images in batches:
        images = check_model_images(model, np.asarray(images))
        outputs = runner.predict_on_batch(images)
        if gated:
            decisions = [np.asarray(d) for d in outputs["decisions"]]
            logits = np.asarray(outputs["logits"])
            flops = flops_from_decisions(model, decisions)
        else:
            decisions = []
            logits = np.asarray(outputs)
            flops = np.full((len(images),), static, dtype=np.int64)
        out = {
            "images": images,
            "logits": logits,
            "decisions": decisions,
            "flops": flops,
        }
        if extra_outputs:
            out["extra"] = keras.tree.map_structure(
                np.asarray, outputs["extra"]
            )
        yield out


def flops_per_image(model, images, batch_size=256):
    """Exact FLOPs each image runs under the model's current decisions.

    Args:
        model: a model built by lcnet_tf (gated or static).
        images: float array `(batch, height, width, channels)`, normalised.
        batch_size: int. Inference batch size.

    Returns:
        int64 array `(batch,)`: for a static model every entry equals
        `count_flops(model)`.

    Example:

    ```python
    flops = flops_per_image(model, x_test[:100])
    print(flops.mean() / count_flops(model, gates=False))
    ```
    """
    images = check_model_images(model, images)
    if not gated_blocks(model) or not len(images):
        return np.full((len(images),), count_flops(model), dtype=np.int64)
    batches = (
        images[start : start + batch_size]
        for start in range(0, len(images), batch_size)
    )
    outputs = batches_with_flops(model, batches)
    return np.concatenate([out["flops"] for out in outputs])
