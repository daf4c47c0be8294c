"""Accuracy of every export form under every post-training quantization.

Exports the gated model in each form (masked, dynamic, staged) with no
quantization, float16, dynamic-range and full int8 (calibrated on real
CIFAR-10 training images), runs each on the CIFAR-10 test set and writes
`benchmarks/results/tflite_quantization.json`:

    python benchmarks/tflite_quantization.py \
        --gated_model=runs/demo/model.keras --examples=10000
"""

import json
import os
import tempfile

from absl import app
from absl import flags

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("gated_model", None, "Trained gated `.keras` model.")
    flags.DEFINE_string("data_dir", None, "CIFAR-10 binary folder.")
    flags.DEFINE_integer("examples", 10000, "Test images per export.")
    flags.DEFINE_integer("calibration", 256, "Training images for int8.")
    flags.DEFINE_list("forms", ["masked", "dynamic", "staged"], "Forms.")
    flags.DEFINE_string(
        "output_dir", "benchmarks/results", "Where the JSON goes."
    )


def run_benchmark(gated_model, data_dir, examples, calibration, forms, out):
    """The benchmark as a library function; returns the results dict."""
    from lcnet_tf.data.cifar10 import cifar10_arrays
    from lcnet_tf.export import StagedRunner
    from lcnet_tf.export import TFLiteModel
    from lcnet_tf.export import check_gpu_compatible
    from lcnet_tf.export import keras_reference
    from lcnet_tf.export import parity_report
    from lcnet_tf.export import to_tflite
    from lcnet_tf.models.saving import load_model

    model = load_model(gated_model, compile=False)
    images, labels = cifar10_arrays("test", data_dir, num_examples=examples)
    representative, _ = cifar10_arrays(
        "train", data_dir, num_examples=calibration
    )
    reference = keras_reference(model, images)
    results = {
        "gated_model": gated_model,
        "images": int(len(images)),
        "calibration_images": int(calibration),
        "keras_top1": parity_report(reference, reference, labels)["keras_top1"],
        "exports": [],
    }
    with tempfile.TemporaryDirectory() as directory:
        for form in forms:
            for quantization in (None, "float16", "dynamic_range", "int8"):
                path = os.path.join(
                    directory, f"{form}_{quantization or 'float32'}.tflite"
                )
                export = to_tflite(
                    model,
                    path,
                    form=form,
                    quantization=quantization,
                    representative_data=representative,
                )
                if form == "staged":
                    runner = StagedRunner(
                        export.manifest_path, accelerator="cpu"
                    )
                else:
                    runner = TFLiteModel(path)
                outputs = runner.predict(images)
                report = parity_report(reference, outputs, labels)
                report.update(
                    form=form,
                    quantization=quantization or "float32",
                    size_bytes=export.size_bytes,
                    gpu_compatible=check_gpu_compatible(path).compatible,
                )
                results["exports"].append(report)
                print(json.dumps(report))
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "tflite_quantization.json"), "w") as f:
        json.dump(results, f, indent=2)
    return results


def main(argv):
    del argv
    if not FLAGS.gated_model:
        raise app.UsageError("--gated_model is required.")
    run_benchmark(
        FLAGS.gated_model,
        FLAGS.data_dir,
        FLAGS.examples,
        FLAGS.calibration,
        FLAGS.forms,
        FLAGS.output_dir,
    )


if __name__ == "__main__":
    define_flags()
    app.run(main)
