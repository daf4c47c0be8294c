"""The Android runner's test fixture: a real export and its trace."""

import os
import tempfile

from lcnet_tf.export.channel_order import calibration_images
from lcnet_tf.export.staged_trace import record_staged_trace
from lcnet_tf.export.staged_trace import write_staged_trace


def nested_fixture_model(static_path, seed=0):
    """An LC-ResNet-20 with nested channel gates whose widths vary.

    The static ResNet-20's weights with gate heads drawn at random (keep
    logits centred on the threshold), so that over a few real images the
    blocks run and skip and the channel gates keep different widths: a
    fixture for the staged protocol's width bodies, not a trained model.

    Args:
        static_path: str. A static ResNet-20 `.keras` file.
        seed: int. Seed of the gate heads.

    Returns:
        A `keras.Model`.
    """
    import numpy as np

    from lcnet_tf.flops import gated_blocks
    from lcnet_tf.models.cifar_resnet import cifar_resnet
    from lcnet_tf.models.static_init import init_from_static

    model = cifar_resnet(
        20, gating="lc", channel_groups=4, channel_selection="nested"
    )
    init_from_static(model, static_path)
    rng = np.random.default_rng(seed)
    for block in gated_blocks(model):
        for gate in block.gates:
            # Every weight from `seed` (the hidden layer's too), so the
            # fixture can be rebuilt bit for bit.
            hidden = gate.hidden.kernel
            hidden.assign(
                rng.normal(
                    0.0, np.sqrt(2.0 / hidden.shape[0]), hidden.shape
                ).astype("f4")
            )
            gate.hidden.bias.assign(np.zeros(gate.hidden.bias.shape, "f4"))
            for layer, bias in (
                (gate.keep_logits, 0.5),
                (gate.scale_logits, 0),
            ):
                layer.kernel.assign(
                    rng.normal(0.0, 0.5, layer.kernel.shape).astype("f4")
                )
                layer.bias.assign(np.full(layer.bias.shape, bias, "f4"))
    return model


def write_android_fixture(
    model_path, data_dir, output, num_images=16, model=None, prefix=False
):
    """Exports a published model (staged form) and traces it.

    The Kotlin runner's tests (`make android-test`) replay the trace: the
    staged manifest as exported, and the Python runner's signature calls,
    decisions, FLOPs and logits on the first `num_images` CIFAR-10 test
    images.

    Args:
        model_path: str. A `.keras` model (a published gated row).
        model: a `keras.Model` to trace instead of `model_path`'s.
        data_dir: str. CIFAR-10 binaries.
        output: str. The trace `.json` to write.
        num_images: int >= 1. Test images traced.
        prefix: bool. Export free channel gates as prefixes of their
            reordered channels (`channel_chunks="prefix"`, ordered on
            `CALIBRATION_IMAGES` training images): width bodies.

    Returns:
        The trace dict.
    """
    from lcnet_tf.data.cifar10 import cifar10_arrays
    from lcnet_tf.export.tflite_exporter import to_tflite
    from lcnet_tf.models.saving import load_model

    if int(num_images) < 1:
        raise ValueError(f"`num_images` must be >= 1. Received: {num_images}")
    if model is None:
        model = load_model(model_path, compile=False)
    images, labels = cifar10_arrays("test", data_dir)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, f"{model.name}_staged.tflite")
        to_tflite(
            model,
            path,
            form="staged",
            channel_chunks="prefix" if prefix else None,
            representative_data=calibration_images(data_dir)
            if prefix
            else None,
        )
        trace = record_staged_trace(
            path[: -len(".tflite")] + ".json",
            images[:num_images],
            labels[:num_images],
        )
    trace["source_model"] = os.path.basename(model_path)
    write_staged_trace(output, trace)
    return trace
