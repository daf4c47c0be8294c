import dataclasses
import os
import tempfile

import tensorflow as tf

from lcnet_tf.export import forms
from lcnet_tf.export.channel_order import channel_plans
from lcnet_tf.export.channel_order import reorder_channels
from lcnet_tf.export.folding import fold_model
from lcnet_tf.export.manifest import staged_manifest
from lcnet_tf.export.manifest import write_manifest
from lcnet_tf.export.pruning import prune_network
from lcnet_tf.export.staged_host import run_staged
from lcnet_tf.validation import check_images

QUANTIZATIONS = (None, "float16", "dynamic_range", "int8")
INPUTS = ("float32", "uint8")
# Positional order of the staged signatures' inputs.
_STAGE_INPUTS = ("images", "features", "channel_scale", "block_scale")


@dataclasses.dataclass
class TFLiteExport:
    """What `to_tflite` wrote.

    Attributes:
        path: the `.tflite` file.
        form: `"masked"`, `"dynamic"` or `"staged"`.
        quantization: None, `"float16"`, `"dynamic_range"` or `"int8"`.
        signatures: the model's signature names.
        manifest_path: the staged form's JSON manifest (else None).
        size_bytes: size of the `.tflite` file.
    """

    path: str
    form: str
    quantization: str | None
    signatures: list
    manifest_path: str | None
    size_bytes: int


def check_quantization(quantization):
    if quantization not in QUANTIZATIONS:
        raise ValueError(
            f"`quantization` must be one of {QUANTIZATIONS}. Received: "
            f"quantization={quantization!r}"
        )
    return quantization


def to_tflite(
    model,
    path,
    form="masked",
    quantization=None,
    representative_data=None,
    channel_chunks=None,
    batch_size=None,
    input="float32",
    prune=False,
    fuse_gates=True,
):
    """Exports a trained lcnet_tf ResNet to TFLite (builtin ops only).

    The **masked** form serves any batch size; it computes every block
    and multiplies by the decisions, and every op runs on the GPU
    delegate. The **dynamic** and **staged** forms serve batch 1 (the
    phone's case): the dynamic form skips blocks and channel chunks with
    TFLite IF conditionals (real savings on the CPU); the staged form
    writes one signature per stage plus a JSON manifest
    (`path` with `.json`) that `StagedRunner` (or the Android runner)
    follows, skipping bodies from the host, GPU delegate included.

    Args:
        model: a model from `lcnet_tf.models` (gated or static), trained.
        path: str. Output `.tflite` file.
        form: str. `"masked"`, `"dynamic"` or `"staged"`.
        quantization: None, `"float16"`, `"dynamic_range"` or `"int8"`
            (full-integer weights and activations, float interface).
        representative_data: array `(n, H, W, C)` of real training
            images as the export takes them (normalised floats, or 0-255
            pixels for `input="uint8"`); required for `"int8"`.
        channel_chunks: None, `"groups"`, int or `"prefix"`. Dynamic
            form: channel chunks per C-gated block, each under its own
            conditional (None: one chunk, channels masked; see
            `forms.block_chunks`). `"prefix"` (dynamic or staged form):
            each free channel gate's channels are reordered, most often
            kept (on `representative_data`) first, and the block runs at
            the narrowest width that holds its last kept channel, among
            those the images often need (`export.channel_order`), which
            saves time where masking saves none; the staged form has
            one body signature per such width, chosen by the host. A
            nested gate keeps its order; in the dynamic form only the
            widths the images often need get a conditional (the others
            run the next wider one), which saves the untaken ones.
        batch_size: None (any batch) or int. Masked form only.
        input: str. `"float32"` (what the model takes), or `"uint8"`:
            camera pixels as they come, for a model that takes 0-255
            pixels (`include_preprocessing=True` or `add_preprocessing`).
        prune: bool. For a model whose every decision is constant (a
            frozen routing, `lcnet_tf.training.freeze_routing`): export
            the static pruned network it is, closed blocks and channels
            left out and constant scales folded into the weights, scales
            learned per image kept as small heads (`prune_network`);
            masked or dynamic form, logits only.
        fuse_gates: bool. Staged form: the stem and each body also return
            the next block's gate outputs, so the host makes one call per
            block that runs (False: a gate call for every gated block, as
            exports before manifest field `gate_fused`).

    Returns:
        A `TFLiteExport`.

    Example:
    ```python
    export = to_tflite(model, "lc_resnet20.tflite", form="dynamic")
    runner = TFLiteModel(export.path)
    ```
    """
    forms.check_form(form)
    check_quantization(quantization)
    if batch_size is not None and int(batch_size) < 1:
        raise ValueError(f"`batch_size` must be >= 1. Received: {batch_size}")
    if form != "masked" and batch_size not in (None, 1):
        raise ValueError(
            f"The {form} form serves batch 1 (one image per call, the "
            f"phone's case); received batch_size={batch_size}. Export the "
            f"masked form for batches."
        )
    if channel_chunks is not None and not (
        form == "dynamic"
        or (form == "staged" and channel_chunks == forms.PREFIX)
    ):
        raise ValueError(
            f"`channel_chunks={channel_chunks!r}` does not apply to the "
            f"{form} form: chunks are the dynamic form's, and 'prefix' "
            f"the dynamic and staged forms'."
        )
    if input not in INPUTS:
        raise ValueError(
            f"`input` must be one of {INPUTS}. Received: input={input!r}"
        )
    network = dataclasses.replace(fold_model(model), input_dtype=input)
    if prune:
        if form == "staged":
            raise ValueError(
                "`prune=True` gives a network without gates, which has no "
                "stages for a host to skip; export the masked or dynamic "
                "form."
            )
        network = prune_network(network)
    if input == "uint8" and not network.takes_pixels:
        raise ValueError(
            f"`input='uint8'` needs a model that takes 0-255 pixels; "
            f"model '{network.name}' takes normalised images. Build it "
            f"with `include_preprocessing=True`, or export "
            f"`lcnet_tf.models.add_preprocessing(model)`."
        )
    prefix = channel_chunks == forms.PREFIX
    if quantization == "int8" or prefix:
        representative_data = _check_representative(
            representative_data,
            network.input_shape,
            input,
            "`quantization='int8'`"
            if quantization == "int8"
            else "`channel_chunks='prefix'`",
        )
    if prefix:
        network = reorder_channels(
            network, channel_plans(model, representative_data)
        )
    if form == "masked":
        functions = {
            "serving_default": forms.masked_function(network, batch_size)
        }
    elif form == "dynamic":
        functions = {
            "serving_default": forms.dynamic_function(network, channel_chunks)
        }
    else:
        functions, stages = forms.staged_functions(network, fuse_gates)
    representative = None
    if quantization == "int8":
        manifest = None
        if form == "staged":
            manifest = staged_manifest(network, stages, quantization)
        representative = _representative(
            form, functions, representative_data, manifest
        )
    flatbuffer = _convert(functions, quantization, representative)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as f:
        f.write(flatbuffer)
    manifest_path = None
    if form == "staged":
        manifest_path = os.path.splitext(path)[0] + ".json"
        write_manifest(
            manifest_path, network, stages, path, quantization=quantization
        )
    return TFLiteExport(
        path=path,
        form=form,
        quantization=quantization,
        signatures=list(functions),
        manifest_path=manifest_path,
        size_bytes=len(flatbuffer),
    )


def _convert(functions, quantization, representative):
    # Folded weights are constants, so a plain tf.Module carries the whole
    # model; the SavedModel keeps signature and output names.
    module = tf.Module()
    signatures = {}
    for name, function in functions.items():
        setattr(module, name, function)
        signatures[name] = function.get_concrete_function()
    with tempfile.TemporaryDirectory() as directory:
        tf.saved_model.save(module, directory, signatures=signatures)
        converter = tf.lite.TFLiteConverter.from_saved_model(
            directory, signature_keys=list(signatures)
        )
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if quantization is not None:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantization == "float16":
            converter.target_spec.supported_types = [tf.float16]
        if representative is not None:
            converter.representative_dataset = representative
        return converter.convert()


def _check_representative(data, input_shape, input, needs):
    if data is None:
        raise ValueError(
            f"{needs} needs `representative_data`: a few hundred real "
            f"training images, as the export takes them."
        )
    return check_images(
        data, input_shape, name="representative_data", dtype=input
    )


def _representative(form, functions, data, manifest=None):
    def single():
        for image in data:
            yield [image[None]]

    def run(calls):
        def call(signature, inputs):
            calls.append((signature, inputs))
            return functions[signature](
                *[inputs[key] for key in _STAGE_INPUTS if key in inputs]
            )

        return call

    def staged():
        for image in data:
            calls = []
            run_staged(
                manifest, run(calls), tf.constant(image[None]), calibrate=True
            )
            yield from calls

    return staged if form == "staged" else single
