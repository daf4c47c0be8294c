"""LiteRT.js on WebGPU in headless Chromium: a real GPU delegate.

Run by `make gpu-test` (CI), which installs the driver's npm packages;
skipped elsewhere unless LCNET_REQUIRE_GPU is set.
"""

import os

import numpy as np
import pytest

from lcnet_tf.export import StagedRunner
from lcnet_tf.export import keras_reference
from lcnet_tf.export import to_tflite
from lcnet_tf.export.browser_check import browser_available
from lcnet_tf.export.browser_check import run_in_browser
from lcnet_tf.export.browser_check import unsupported_reports
from lcnet_tf.models import set_threshold
from tests.export.conftest import make_model
from tests.fixtures import random_images

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def browser():
    if not browser_available():
        if os.environ.get("LCNET_REQUIRE_GPU"):
            pytest.fail("LiteRT.js driver missing: run `make gpu-test`")
        pytest.skip("node, chromium or tflite/web/node_modules missing")


def _traced_calls(runner, image):
    """Every (signature, inputs, outputs) the CPU runner makes."""
    calls = []
    run = runner._backend.run

    def record(signature, inputs):
        outputs = run(signature, inputs)
        calls.append((signature, dict(inputs), outputs))
        return outputs

    runner._backend.run = record
    runner(image)
    # With fused gates the host calls a gate signature only after a
    # skipped block; call each one on its block's input too, so every
    # signature is traced.
    for signature, inputs, _ in list(calls):
        gate = signature.replace("_body", "_gate")
        if signature.endswith("_body") and gate in runner._backend.signatures():
            features = {"features": inputs["features"]}
            calls.append((gate, features, run(gate, features)))
    return calls


def test_masked_and_every_staged_signature_run_fully_on_webgpu(
    browser, tmp_path
):
    model = make_model("lc")
    image = random_images(1, seed=31)
    masked = to_tflite(model, str(tmp_path / "m.tflite"), batch_size=1)
    # Every gate open, so the trace reaches every body signature.
    set_threshold(model, 0.0)
    staged = to_tflite(model, str(tmp_path / "s.tflite"), form="staged")
    calls = _traced_calls(
        StagedRunner(staged.manifest_path, accelerator="cpu"), image
    )
    assert {c[0] for c in calls} == set(staged.signatures)
    set_threshold(model, 0.5)
    result = run_in_browser(
        str(tmp_path / "case"),
        [
            (masked.path, [("serving_default", {"images": image})]),
            (staged.path, [(name, inputs) for name, inputs, _ in calls]),
        ],
    )
    assert result["ok"], result.get("error")
    assert (
        "swiftshader" in (result["adapter"] or "").lower() or result["adapter"]
    )
    assert unsupported_reports(result) == []
    got = result["results"][0]["runs"][0]["outputs"]
    reference = keras_reference(model, image)
    np.testing.assert_allclose(
        got["logits"], reference["logits"][0], atol=1e-3, rtol=1e-3
    )
    np.testing.assert_array_equal(
        np.reshape(got["decisions"], (-1, 2)), reference["decisions"][0]
    )
    for run, (name, _, expected) in zip(result["results"][1]["runs"], calls):
        for key, value in expected.items():
            np.testing.assert_allclose(
                run["outputs"][key],
                np.asarray(value).reshape(-1),
                atol=1e-3,
                rtol=1e-3,
                err_msg=f"{name}/{key}",
            )


def test_conditionals_are_reported(browser, tmp_path):
    model = make_model("l")
    dynamic = to_tflite(model, str(tmp_path / "d.tflite"), form="dynamic")
    image = random_images(1, seed=32)
    result = run_in_browser(
        str(tmp_path / "case"),
        [(dynamic.path, [("serving_default", {"images": image})])],
        jspi=True,
    )
    assert result["ok"], result.get("error")
    assert any("IF" in line for line in unsupported_reports(result))
    np.testing.assert_allclose(
        result["results"][0]["runs"][0]["outputs"]["logits"],
        keras_reference(model, image)["logits"][0],
        atol=1e-3,
        rtol=1e-3,
    )
