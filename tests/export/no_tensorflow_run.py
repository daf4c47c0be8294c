"""Runs exported models with TensorFlow blocked: LiteRT, Keras on JAX and
NumPy only. `tests/export/test_runtime_without_tensorflow.py` runs it in
a subprocess and compares what it writes with the same runners on
TensorFlow.

    python no_tensorflow_run.py <staged manifest> <dynamic .tflite>
        <images .npy> <output folder>
"""

import json
import os
import sys

# Run as a script: the repository root holds the `tests` package.
sys.path.insert(0, os.path.abspath(os.path.join(__file__, "../../..")))
from tests.no_tensorflow import block_tensorflow  # noqa: E402

block_tensorflow()

import numpy as np  # noqa: E402

from lcnet_tf.export import StagedRunner  # noqa: E402
from lcnet_tf.export import TFLiteModel  # noqa: E402
from lcnet_tf.export import check_gpu_compatible  # noqa: E402


def main(manifest, dynamic_path, images_path, out_dir):
    images = np.load(images_path)
    staged = StagedRunner(manifest, accelerator="cpu").predict(images)
    dynamic = TFLiteModel(dynamic_path, num_threads=1).predict(images)
    np.savez(
        os.path.join(out_dir, "outputs.npz"),
        **{f"staged_{key}": value for key, value in staged.items()},
        **{f"dynamic_{key}": value for key, value in dynamic.items()},
    )
    report = {
        "gpu_compatible": bool(check_gpu_compatible(dynamic_path).compatible),
    }
    try:
        from lcnet_tf.export import to_tflite  # noqa: F401
    except ImportError as error:
        report["converter_error"] = str(error)
    with open(os.path.join(out_dir, "report.json"), "w") as f:
        json.dump(report, f)


if __name__ == "__main__":
    main(*sys.argv[1:5])
