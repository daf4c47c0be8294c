"""A published model's exports on real CIFAR-10 test images."""

import os

import pytest

from lcnet_tf.data.cifar10 import cifar10_arrays
from lcnet_tf.export import StagedRunner
from lcnet_tf.export import TFLiteModel
from lcnet_tf.export import keras_reference
from lcnet_tf.export import parity_report
from lcnet_tf.export import to_tflite
from lcnet_tf.models import load_model
from lcnet_tf.models.pretrained import pretrained_dir

# A row whose routing changes from image to image (44 block routings on
# the test set), so every form must skip different blocks per image.
MODEL = "lc_resnet20_t30_e10_cifar10.keras"
IMAGES = 300


@pytest.fixture(scope="module")
def published(cifar10_dir, tmp_path_factory):
    model = load_model(os.path.join(pretrained_dir(), MODEL), compile=False)
    images, labels = cifar10_arrays("test", cifar10_dir, num_examples=IMAGES)
    reference = keras_reference(model, images)
    return model, images, labels, reference, tmp_path_factory.mktemp("real")


def _check_float32(report):
    assert report["images"] == IMAGES
    assert report["decision_agreement"] == 1.0
    assert report["top1_agreement"] == 1.0
    assert report["max_logit_diff"] < 1e-3
    assert report["export_top1"] == report["keras_top1"]


@pytest.mark.parametrize("form", ["masked", "dynamic"])
def test_float32_forms_decide_and_classify_as_keras(published, form):
    model, images, labels, reference, folder = published
    export = to_tflite(model, str(folder / f"{form}.tflite"), form=form)
    outputs = TFLiteModel(export.path, num_threads=2).predict(images)
    _check_float32(parity_report(reference, outputs, labels))
    # The routing really varies over these images.
    runs = reference["decisions"][:, :, 0] > 0.5
    assert len({tuple(row) for row in runs}) > 5


def test_staged_form_decides_and_classifies_as_keras(published):
    model, images, labels, reference, folder = published
    export = to_tflite(model, str(folder / "staged.tflite"), form="staged")
    runner = StagedRunner(export.manifest_path, accelerator="cpu")
    _check_float32(parity_report(reference, runner.predict(images), labels))


# Bounds of the quantized masked exports against float32 on the same
# images. Measured (2026-11-30): top-1 agreement 100% / 99.7% / 96.3% and
# top-1 76.0 / 76.0 / 75.3% against Keras' 76.0% for float16 /
# dynamic-range / int8; the bounds leave a little room.
@pytest.mark.parametrize(
    "quantization, top1_agreement, top1_drop",
    [
        ("float16", 0.99, 0.01),
        ("dynamic_range", 0.98, 0.02),
        ("int8", 0.93, 0.03),
    ],
)
def test_quantized_accuracy_stays_near_float32(
    published, cifar10_dir, quantization, top1_agreement, top1_drop
):
    model, images, labels, reference, folder = published
    representative = None
    if quantization == "int8":
        representative, _ = cifar10_arrays(
            "train", cifar10_dir, num_examples=100
        )
    export = to_tflite(
        model,
        str(folder / f"{quantization}.tflite"),
        quantization=quantization,
        representative_data=representative,
    )
    outputs = TFLiteModel(export.path, num_threads=2).predict(images)
    report = parity_report(reference, outputs, labels)
    assert report["top1_agreement"] >= top1_agreement
    assert report["export_top1"] >= report["keras_top1"] - top1_drop
