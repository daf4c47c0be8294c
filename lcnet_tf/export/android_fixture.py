"""The Android runner's test fixture: a real export and its trace."""

import os
import tempfile

from lcnet_tf.export.staged_trace import record_staged_trace
from lcnet_tf.export.staged_trace import write_staged_trace


def write_android_fixture(model_path, data_dir, output, num_images=16):
    """Exports a published model (staged form) and traces it.

    The Kotlin runner's tests (`make android-test`) replay the trace: the
    staged manifest as exported, and the Python runner's signature calls,
    decisions, FLOPs and logits on the first `num_images` CIFAR-10 test
    images.

    Args:
        model_path: str. A `.keras` model (a published gated row).
        data_dir: str. CIFAR-10 binaries.
        output: str. The trace `.json` to write.
        num_images: int >= 1. Test images traced.

    Returns:
        The trace dict.
    """
    from lcnet_tf.data.cifar10 import cifar10_arrays
    from lcnet_tf.export.tflite_exporter import to_tflite
    from lcnet_tf.models.saving import load_model

    if int(num_images) < 1:
        raise ValueError(f"`num_images` must be >= 1. Received: {num_images}")
    model = load_model(model_path, compile=False)
    images, labels = cifar10_arrays("test", data_dir)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, f"{model.name}_staged.tflite")
        to_tflite(model, path, form="staged")
        trace = record_staged_trace(
            path[: -len(".tflite")] + ".json",
            images[:num_images],
            labels[:num_images],
        )
    trace["source_model"] = os.path.basename(model_path)
    write_staged_trace(output, trace)
    return trace
