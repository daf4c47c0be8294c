"""Running an export needs no TensorFlow: the staged and dynamic runners
give the same outputs with TensorFlow blocked (Keras on JAX), and the
converter says it needs TensorFlow."""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from lcnet_tf.export import StagedRunner
from lcnet_tf.export import TFLiteModel
from lcnet_tf.export import to_tflite
from tests.export.conftest import make_model
from tests.fixtures import random_images

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def exports(export_dir):
    model = make_model("lc")
    staged = to_tflite(
        model, os.path.join(export_dir, "staged.tflite"), form="staged"
    )
    dynamic = to_tflite(
        model, os.path.join(export_dir, "dynamic.tflite"), form="dynamic"
    )
    images = random_images(8, seed=2)
    images_path = os.path.join(export_dir, "images.npy")
    np.save(images_path, images)
    return staged.manifest_path, dynamic.path, images_path, images


@pytest.fixture(scope="module")
def no_tensorflow_run(exports, tmp_path_factory):
    if importlib.util.find_spec("jax") is None:
        if os.environ.get("CI"):
            pytest.fail("jax is not installed (it is in the dev extras)")
        pytest.skip("jax is not installed")
    out = tmp_path_factory.mktemp("no_tensorflow")
    done = subprocess.run(
        [
            sys.executable,
            os.path.join(HERE, "no_tensorflow_run.py"),
            *exports[:3],
            str(out),
        ],
        env=dict(os.environ, JAX_PLATFORMS="cpu"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    with open(out / "report.json") as f:
        report = json.load(f)
    return dict(np.load(out / "outputs.npz")), report


def test_runners_match_tensorflow_without_it(exports, no_tensorflow_run):
    manifest, dynamic, _, images = exports
    outputs, report = no_tensorflow_run
    staged = StagedRunner(manifest, accelerator="cpu").predict(images)
    for key, value in staged.items():
        np.testing.assert_array_equal(outputs[f"staged_{key}"], value)
    tflite = TFLiteModel(dynamic, num_threads=1)
    for key, value in tflite.predict(images).items():
        np.testing.assert_array_equal(outputs[f"dynamic_{key}"], value)
    # The tiny model's gates decide per image: the runs compared differ.
    decisions = staged["decisions"].reshape(len(images), -1)
    assert len(np.unique(decisions, axis=0)) > 1
    assert report["gpu_compatible"] is False


def test_converter_names_tensorflow_when_missing(no_tensorflow_run):
    _, report = no_tensorflow_run
    assert "need TensorFlow" in report["converter_error"]
    assert "pip install tensorflow" in report["converter_error"]
