"""Keras' JAX backend: tiny models train there without TensorFlow, and
their `.keras` files load on TensorFlow and export with equal decisions.
"""

import importlib.util
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from lcnet_tf.export import TFLiteModel
from lcnet_tf.export import keras_reference
from lcnet_tf.export import parity_report
from lcnet_tf.export import to_tflite
from lcnet_tf.flops import flops_per_image
from lcnet_tf.losses import budget_loss

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = ("lc", "l", "c_nested", "aig", "lc_pixels")


@pytest.fixture(scope="module")
def jax_run(tmp_path_factory):
    if importlib.util.find_spec("jax") is None:
        if os.environ.get("CI"):
            pytest.fail("jax is not installed (it is in the dev extras)")
        pytest.skip("jax is not installed")
    out = tmp_path_factory.mktemp("jax")
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    done = subprocess.run(
        [sys.executable, os.path.join(HERE, "jax_backend_run.py"), str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    with open(out / "report.json") as f:
        return str(out), json.load(f)


def test_jax_training_meets_the_budget_without_tensorflow(jax_run):
    _, report = jax_run
    assert report["budget_loss"] == pytest.approx(
        float(budget_loss(0.75, 0.5, 2.0))
    )
    for case in CASES:
        row = report[case]
        assert all(np.isfinite(row["loss"])), case
        # The budget term trained the gates: fewer FLOPs than all open,
        # and a stricter threshold never costs more.
        assert row["mean_flops"] < 0.9 * row["open_flops"], case
        assert row["mean_flops_tau_095"] <= row["mean_flops"], case
    assert report["lc"]["mean_flops_tau_095"] < report["lc"]["mean_flops"]
    # The TensorFlow-only parts say so, and what runs instead.
    assert "need TensorFlow" in report["training_import_error"]
    assert "model.fit" in report["training_import_error"]


def test_tf_distribute_on_jax_names_the_backend(jax_run):
    code = (
        "from lcnet_tf.training.strategy import make_strategy\n"
        "try:\n"
        "    make_strategy('mirrored')\n"
        "except ValueError as error:\n"
        "    print(error)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "needs Keras' TensorFlow backend" in done.stdout, done.stderr
    assert "'jax'" in done.stdout


@pytest.mark.parametrize("case", CASES)
def test_jax_model_loads_on_tensorflow_and_exports(case, jax_run, tmp_path):
    out, _ = jax_run
    model = keras.models.load_model(os.path.join(out, f"{case}.keras"))
    saved = np.load(os.path.join(out, f"{case}.npz"))
    images = saved["images"]
    np.testing.assert_allclose(
        model.predict(images, verbose=0), saved["logits"], atol=1e-4
    )
    np.testing.assert_array_equal(
        flops_per_image(model, images), saved["flops"]
    )
    # Pixel models export for camera bytes (the JAX run fed integers).
    pixels = case == "lc_pixels"
    export = to_tflite(
        model,
        str(tmp_path / "m.tflite"),
        form="dynamic",
        input="uint8" if pixels else "float32",
    )
    exported = images.astype(np.uint8) if pixels else images
    report = parity_report(
        keras_reference(model, images[:8]),
        TFLiteModel(export.path).predict(exported[:8]),
    )
    assert report["decision_agreement"] == 1.0, report
    assert report["top1_agreement"] == 1.0, report
