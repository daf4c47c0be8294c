import os

import numpy as np
import pytest

from lcnet_tf.data.cifar10 import normalize_cifar10
from lcnet_tf.export import StagedRunner
from lcnet_tf.export import TFLiteModel
from lcnet_tf.export import keras_reference
from lcnet_tf.export import parity_report
from lcnet_tf.export import to_tflite
from lcnet_tf.export.gpu_compatibility import check_gpu_compatible
from lcnet_tf.models import add_preprocessing
from tests.export.conftest import make_model


@pytest.fixture(scope="module")
def models():
    model = make_model("lc")
    return model, add_preprocessing(model)


def _pixels(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)


@pytest.mark.parametrize("form", ["masked", "dynamic", "staged"])
def test_uint8_export_takes_camera_pixels(form, models, export_dir):
    model, raw = models
    pixels = _pixels(6, seed=3)
    reference = keras_reference(model, np.asarray(normalize_cifar10(pixels)))
    export = to_tflite(
        raw,
        os.path.join(export_dir, f"{form}_u8.tflite"),
        form=form,
        input="uint8",
    )
    if form == "staged":
        runner = StagedRunner(export.manifest_path, accelerator="cpu")
        assert runner.manifest["input"]["dtype"] == "uint8"
    else:
        runner = TFLiteModel(export.path)
        assert runner.input_dtype == "uint8"
    if form != "dynamic":
        # The uint8 -> float cast runs on the GPU delegate too.
        assert check_gpu_compatible(export.path).compatible
    outputs = runner.predict(pixels)
    report = parity_report(reference, outputs)
    assert report["max_logit_diff"] < 1e-3, report
    assert report["top1_agreement"] == 1.0
    assert report["decision_agreement"] == 1.0, report
    with pytest.raises(ValueError, match="integer pixels 0-255"):
        runner.predict(pixels.astype("float32"))


def test_int8_export_calibrates_on_pixels(models, export_dir):
    model, raw = models
    pixels = _pixels(16, seed=5)
    export = to_tflite(
        raw,
        os.path.join(export_dir, "int8_u8.tflite"),
        form="dynamic",
        quantization="int8",
        representative_data=pixels,
        input="uint8",
    )
    logits = TFLiteModel(export.path).predict(pixels[:4])["logits"]
    assert logits.shape == (4, 10) and np.all(np.isfinite(logits))


def test_pixel_input_errors_name_the_fix(models, export_dir):
    model, raw = models
    path = os.path.join(export_dir, "bad.tflite")
    with pytest.raises(ValueError, match="add_preprocessing"):
        to_tflite(model, path, input="uint8")
    with pytest.raises(ValueError, match="`input` must be one of"):
        to_tflite(raw, path, input="int16")
    with pytest.raises(ValueError, match="pixels in 0-255"):
        to_tflite(
            raw,
            path,
            quantization="int8",
            representative_data=np.full((2, 32, 32, 3), 999, np.int32),
            input="uint8",
        )


def test_uint8_staged_runs_on_the_gpu_accelerator(
    models, export_dir, require_gpu
):
    model, raw = models
    pixels = _pixels(3, seed=7)
    reference = keras_reference(model, np.asarray(normalize_cifar10(pixels)))
    export = to_tflite(
        raw,
        os.path.join(export_dir, "gpu_u8.tflite"),
        form="staged",
        input="uint8",
    )
    runner = StagedRunner(export.manifest_path, accelerator="gpu")
    report = parity_report(reference, runner.predict(pixels))
    assert report["decision_agreement"] == 1.0, report
    assert report["top1_agreement"] == 1.0, report
