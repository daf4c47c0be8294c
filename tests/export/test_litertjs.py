"""LiteRT.js on WebGPU in headless Chromium: a real GPU delegate.

Run by `make gpu-test` (CI), which installs the driver's npm packages;
skipped elsewhere unless LCNET_REQUIRE_GPU is set.
"""

import json
import os

import numpy as np
import pytest

from lcnet_tf.export import StagedRunner
from lcnet_tf.export import keras_reference
from lcnet_tf.export import to_tflite
from lcnet_tf.export.browser_check import browser_available
from lcnet_tf.export.browser_check import run_in_browser
from lcnet_tf.export.browser_check import run_staged_in_browser
from lcnet_tf.export.browser_check import unsupported_reports
from lcnet_tf.models import set_threshold
from tests.export.conftest import make_model
from tests.export.conftest import predict_staged
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


def test_browser_host_loop_equals_the_python_runner(browser, tmp_path):
    images = random_images(8, seed=33)
    exports = {
        "nested_projection": to_tflite(
            make_model(
                "lc",
                channel_selection="nested",
                channel_groups=4,
                gate_projection_blocks=True,
            ),
            str(tmp_path / "n.tflite"),
            form="staged",
        ),
        "l_projection": to_tflite(
            make_model("l", gate_projection_blocks=True),
            str(tmp_path / "l.tflite"),
            form="staged",
        ),
        "free_prefix": to_tflite(
            make_model("lc"),
            str(tmp_path / "p.tflite"),
            form="staged",
            channel_chunks="prefix",
            representative_data=random_images(16, seed=34),
        ),
    }
    result = run_staged_in_browser(
        str(tmp_path / "case"),
        {name: e.manifest_path for name, e in exports.items()},
        images,
        warmup=1,
        rounds=2,
    )
    assert result["ok"], result.get("error")
    assert unsupported_reports(result) == []
    called = set()
    for name, export in exports.items():
        got = result["variants"][name]
        assert got["fully_accelerated"], name
        assert len(got["times_ms"]) == len(images)
        expected, calls = predict_staged(export.manifest_path, images)
        called.update(calls)
        assert got["calls"] == len(calls), name
        outputs = got["outputs"]
        np.testing.assert_allclose(
            [o["logits"] for o in outputs],
            expected["logits"],
            atol=1e-3,
            rtol=1e-3,
            err_msg=name,
        )
        np.testing.assert_array_equal(
            [o["decisions"] for o in outputs], expected["decisions"]
        )
        np.testing.assert_array_equal(
            [o["flops"] for o in outputs], expected["flops"]
        )
    # Every branch of the host loop ran: a gate called alone after a
    # skipped block, a projection block's skip, width bodies.
    assert any(name.endswith("_gate") for name in called)
    assert any(name.endswith("_skip") for name in called)
    assert any("_body_w" in name for name in called)


def _corrupt(manifest_path, how):
    with open(manifest_path) as f:
        manifest = json.load(f)
    if how == "missing model":
        os.remove(os.path.join(os.path.dirname(manifest_path), "n.tflite"))
        return
    widths = next(b["widths"] for b in manifest["blocks"] if "widths" in b)
    if how == "sha":
        manifest["tflite_sha256"] = "0" * 64
    elif how == "extra width signature":
        widths.pop(max(widths, key=int))
    else:
        widths["99"] = widths[max(widths, key=int)] + "9"
    with open(manifest_path, "w") as f:
        json.dump(manifest, f)


@pytest.mark.parametrize(
    "how, message",
    [
        ("sha", "SHA-256 differs"),
        ("extra width signature", "does not list"),
        ("missing width signature", "does not have"),
        ("missing model", "which does not exist"),
    ],
)
def test_browser_host_loop_refuses_a_manifest_that_does_not_match(
    browser, tmp_path, how, message
):
    model = make_model("c", channel_selection="nested", channel_groups=4)
    export = to_tflite(model, str(tmp_path / "n.tflite"), form="staged")
    _corrupt(export.manifest_path, how)
    result = run_staged_in_browser(
        str(tmp_path / "case"),
        {"bad": export.manifest_path},
        random_images(1, seed=35),
    )
    assert not result["ok"]
    assert message in result["error"]


def test_browser_host_loop_checks_the_images_first(tmp_path):
    # No browser needed: the images are refused before the page starts.
    model = make_model("l")
    export = to_tflite(model, str(tmp_path / "l.tflite"), form="staged")
    variants = {"l": export.manifest_path}
    with pytest.raises(ValueError, match="shape"):
        run_staged_in_browser(str(tmp_path / "a"), variants, np.ones((1, 8)))
    images = random_images(2, seed=36)
    images[1, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        run_staged_in_browser(str(tmp_path / "b"), variants, images)


def test_browser_host_loop_runs_on_litertjs_cpu_too(browser, tmp_path):
    model = make_model("lc", channel_selection="nested", channel_groups=4)
    export = to_tflite(model, str(tmp_path / "n.tflite"), form="staged")
    images = random_images(3, seed=37)
    result = run_staged_in_browser(
        str(tmp_path / "case"),
        {"cpu": export.manifest_path},
        images,
        warmup=0,
        rounds=1,
        accelerator="wasm",
    )
    assert result["ok"], result.get("error")
    expected, _ = predict_staged(export.manifest_path, images)
    outputs = result["variants"]["cpu"]["outputs"]
    np.testing.assert_allclose(
        [o["logits"] for o in outputs], expected["logits"], atol=1e-4
    )
    np.testing.assert_array_equal(
        [o["flops"] for o in outputs], expected["flops"]
    )
