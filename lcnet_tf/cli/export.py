"""Exports a trained model to TFLite and checks it against Keras.

`lcnet-export --model=runs/demo/model.keras --form=dynamic
--output=runs/demo/lc_dynamic.tflite --parity_examples=1000`
"""

import json

import numpy as np
from absl import app
from absl import flags

from lcnet_tf.cli.launcher import launch

FLAGS = flags.FLAGS


def define_flags():
    if "form" in FLAGS:
        return
    if "model" not in FLAGS:
        flags.DEFINE_string("model", None, "Path of a `.keras` model.")
    if "data_dir" not in FLAGS:
        flags.DEFINE_string(
            "data_dir", None, "Folder with the CIFAR-10 binary files."
        )
    if "output" not in FLAGS:
        flags.DEFINE_string("output", None, "The `.tflite` file to write.")
    flags.DEFINE_enum(
        "form", "masked", ["masked", "dynamic", "staged"], "Export form."
    )
    flags.DEFINE_enum(
        "quantization",
        "none",
        ["none", "float16", "dynamic_range", "int8"],
        "Post-training quantization.",
    )
    flags.DEFINE_integer(
        "representative_examples",
        256,
        "Training images used to calibrate int8 quantization.",
    )
    flags.DEFINE_string(
        "channel_chunks",
        None,
        "Dynamic form: channel chunks per block (an int or 'groups'), or "
        "'prefix' (dynamic or staged form): free channel gates' channels "
        "reordered by how often --representative_examples training "
        "images keep them, each block run at the width of its last kept "
        "one.",
    )
    flags.DEFINE_enum(
        "input",
        "float32",
        ["float32", "uint8"],
        "What the exported model takes: 'float32' (as the Keras model) "
        "or 'uint8' camera pixels (0-255; a model trained on normalised "
        "images gets CIFAR-10's Rescaling + Normalization put in front).",
    )
    flags.DEFINE_boolean(
        "prune",
        False,
        "For a model whose decisions are all constant (a frozen "
        "routing): export the static pruned network it is, scales learned "
        "per image kept as small heads (masked or dynamic form).",
    )
    flags.DEFINE_integer(
        "parity_examples",
        0,
        "Compare with Keras on the first N test images (0: skip).",
    )


def export_file(
    model_path,
    output,
    form="masked",
    quantization=None,
    data_dir=None,
    representative_examples=256,
    channel_chunks=None,
    parity_examples=0,
    input="float32",
    prune=False,
):
    """Exports a saved model; the library side of the CLI.

    Returns:
        A dict report: the export, its GPU check and, with
        `parity_examples`, the parity against Keras on real test images.
    """
    from lcnet_tf.data.cifar10 import cifar10_arrays
    from lcnet_tf.data.cifar10 import normalize_cifar10
    from lcnet_tf.export import StagedRunner
    from lcnet_tf.export import TFLiteModel
    from lcnet_tf.export import check_gpu_compatible
    from lcnet_tf.export import keras_reference
    from lcnet_tf.export import parity_report
    from lcnet_tf.export import to_tflite
    from lcnet_tf.models import add_preprocessing
    from lcnet_tf.models import has_preprocessing
    from lcnet_tf.models.saving import load_model

    model = load_model(model_path, compile=False)
    added = input == "uint8" and not has_preprocessing(model)
    exported = add_preprocessing(model) if added else model
    pixels = has_preprocessing(exported)
    representative = None
    if quantization == "int8" or channel_chunks == "prefix":
        representative, _ = cifar10_arrays(
            "train",
            data_dir,
            num_examples=representative_examples,
            normalize=not pixels,
        )
    export = to_tflite(
        exported,
        output,
        form=form,
        quantization=quantization,
        representative_data=representative,
        channel_chunks=channel_chunks,
        input=input,
        prune=prune,
    )
    gpu = check_gpu_compatible(export.path)
    report = {
        "model": model_path,
        "tflite": export.path,
        "form": form,
        "quantization": quantization,
        "input": input,
        "pruned": bool(prune),
        "preprocessing_added": "cifar10" if added else None,
        "size_bytes": export.size_bytes,
        "signatures": len(export.signatures),
        "manifest": export.manifest_path,
        "gpu_compatible": gpu.compatible,
        "gpu_problems": gpu.problems[:20],
    }
    if parity_examples:
        images, labels = cifar10_arrays(
            "test", data_dir, num_examples=parity_examples, normalize=False
        )
        if form == "staged":
            runner = StagedRunner(export.manifest_path, accelerator="cpu")
        else:
            runner = TFLiteModel(export.path)
        # The Keras reference is the model as trained, on what it takes.
        if has_preprocessing(model):
            inputs = images.astype("float32")
        else:
            inputs = np.asarray(normalize_cifar10(images))
        exported_inputs = images if input == "uint8" else inputs
        report["parity"] = parity_report(
            keras_reference(model, inputs),
            runner.predict(exported_inputs),
            labels,
        )
    return report


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    if not FLAGS.model or not FLAGS.output:
        raise app.UsageError("--model and --output are required.")
    report = export_file(
        FLAGS.model,
        FLAGS.output,
        form=FLAGS.form,
        quantization=None
        if FLAGS.quantization == "none"
        else (FLAGS.quantization),
        data_dir=FLAGS.data_dir,
        representative_examples=FLAGS.representative_examples,
        channel_chunks=FLAGS.channel_chunks,
        parity_examples=FLAGS.parity_examples,
        input=FLAGS.input,
        prune=FLAGS.prune,
    )
    print(json.dumps(report, indent=2))


def run():
    launch(main, define_flags, __name__)


if __name__ == "__main__":
    run()
