"""Nested channel selection through every export form."""

import os

import pytest

from lcnet_tf.export import StagedRunner
from lcnet_tf.export import TFLiteModel
from lcnet_tf.export import keras_reference
from lcnet_tf.export import parity_report
from lcnet_tf.export import to_tflite
from lcnet_tf.export.gpu_compatibility import check_gpu_compatible
from tests.export.conftest import make_model
from tests.fixtures import random_images


@pytest.fixture(scope="module", params=["learned", "gate"])
def model(request):
    return make_model(
        "lc",
        channel_groups=4,
        channel_selection="nested",
        scale=request.param,
    )


@pytest.mark.parametrize("form", ["masked", "dynamic", "staged"])
def test_nested_exports_decide_as_keras(model, form, export_dir):
    images = random_images(6, seed=21)
    reference = keras_reference(model, images)
    export = to_tflite(
        model, os.path.join(export_dir, f"n_{form}.tflite"), form
    )
    if form == "staged":
        outputs = StagedRunner(export.manifest_path).predict(images)
    else:
        outputs = TFLiteModel(export.path).predict(images)
    report = parity_report(reference, outputs)
    assert report["max_logit_diff"] < 1e-4, report
    assert report["decision_agreement"] == 1.0, report
    if form != "dynamic":
        # No CUMPROD: the prefix is matrix arithmetic the GPU delegate runs.
        assert check_gpu_compatible(export.path).compatible
