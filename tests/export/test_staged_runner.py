import json
import os

import numpy as np
import pytest

from lcnet_tf.export import StagedRunner
from lcnet_tf.export import check_gpu_compatible
from lcnet_tf.export import keras_reference
from lcnet_tf.export import parity_report
from lcnet_tf.export import read_manifest
from lcnet_tf.export import to_tflite
from tests.export.conftest import make_model
from tests.fixtures import random_images


@pytest.fixture(scope="module")
def staged(export_dir):
    model = make_model("lc")
    export = to_tflite(
        model, os.path.join(export_dir, "lc_staged.tflite"), form="staged"
    )
    return model, export


def _staged_flops(model, decisions):
    """What the staged form runs: every gate head, and every channel of
    every block that runs."""
    from lcnet_tf.flops import count_flops
    from lcnet_tf.flops import gated_blocks

    total = count_flops(model)
    for index, block in enumerate(gated_blocks(model)):
        skipped = decisions[:, index, 0] < 0.5
        total = total - skipped * block.body_flops(block.filters)
    return total


def test_manifest_describes_every_stage(staged):
    model, export = staged
    manifest, tflite_path = read_manifest(export.manifest_path)
    assert tflite_path == os.path.abspath(export.path)
    assert manifest["input"]["shape"] == [1, 32, 32, 3]
    assert [b["name"] for b in manifest["blocks"]] == [
        "stage1_block1",
        "stage2_block1",
        "stage3_block1",
    ]
    assert [b["skippable"] for b in manifest["blocks"]] == [True, False, False]
    assert set(export.signatures) == {
        "stem",
        "head",
        *[f"block{i}_{part}" for i in range(3) for part in ("gate", "body")],
    }
    assert check_gpu_compatible(export.path).compatible


def test_cpu_runner_matches_keras(staged):
    model, export = staged
    images = random_images(6, seed=21)
    runner = StagedRunner(export.manifest_path, accelerator="cpu")
    assert runner.accelerator == "cpu"
    outputs = runner.predict(images)
    reference = keras_reference(model, images)
    report = parity_report(reference, outputs)
    assert report["decision_agreement"] == 1.0
    assert report["max_logit_diff"] < 1e-4
    np.testing.assert_array_equal(
        outputs["flops"], _staged_flops(model, outputs["decisions"])
    )


@pytest.mark.gpu
def test_gpu_runner_is_fully_delegated_and_matches_keras(staged, require_gpu):
    model, export = staged
    images = random_images(3, seed=22)
    runner = StagedRunner(export.manifest_path, accelerator="gpu")
    assert runner.accelerator == "gpu"
    assert runner.fully_on_gpu, runner._backend.refused
    assert runner._backend.refused == []
    report = parity_report(
        keras_reference(model, images), runner.predict(images)
    )
    assert report["decision_agreement"] == 1.0
    assert report["max_logit_diff"] < 1e-3


@pytest.mark.gpu
def test_gpu_features_stay_on_the_device(staged, require_gpu):
    _, export = staged
    images = random_images(4, seed=23)
    calls = []

    def count(name, inputs, outputs):
        calls.append(name)
        # The hook sees host arrays, whatever stayed on the device.
        assert all(isinstance(v, np.ndarray) for v in outputs.values())

    chained = StagedRunner(export.manifest_path, accelerator="gpu")
    copied = StagedRunner(
        export.manifest_path, accelerator="gpu", device_buffers=False
    )
    traced = StagedRunner(
        export.manifest_path, accelerator="gpu", on_call=count
    )
    expected = copied.predict(images)
    assert not copied.device_buffers
    for runner in (chained, traced):
        outputs = runner.predict(images)
        for key, value in expected.items():
            np.testing.assert_array_equal(outputs[key], value)
    assert calls
    # SwiftShader takes an output buffer as the next signature's input.
    assert chained.device_buffers
    assert chained.signatures_through_host == []
    # An output kept on the device is the signature's own buffer: once
    # that signature runs again it refuses to pass for the new values.
    backend = chained._backend
    stem = chained.manifest["stem"]
    first = backend.run(stem, {"images": images[:1]})["features"]
    kept = backend.run(stem, {"images": images[1:2]})["features"]
    kept_values = np.asarray(kept).copy()
    body = chained.manifest["blocks"][1]["body"]
    with pytest.raises(RuntimeError, match="after that signature ran again"):
        np.asarray(first)
    with pytest.raises(RuntimeError, match="after that signature ran again"):
        backend.run(body, {"features": first})
    backend.run(stem, {"images": images[2:3]})
    # Read before its buffer was reused: it keeps its own values.
    np.testing.assert_array_equal(np.asarray(kept), kept_values)


@pytest.mark.gpu
def test_gpu_signature_that_refuses_a_device_buffer_reads_the_host(
    staged, require_gpu
):
    # SwiftShader takes every buffer; an NVIDIA driver refused some (a
    # width body's scales). Such a refusal, as LiteRT raises it:
    _, export = staged
    images = random_images(3, seed=24)
    expected = StagedRunner(
        export.manifest_path, accelerator="gpu", device_buffers=False
    ).predict(images)
    runner = StagedRunner(export.manifest_path, accelerator="gpu")
    model = runner._backend.model
    run_by_name = model.run_by_name
    body = runner.manifest["blocks"][1]["body"]
    fed = []

    class Refusing:
        def __getattr__(self, name):
            return getattr(model, name)

        def run_by_name(self, signature, inputs, outputs):
            fed.append(signature)
            written = runner._backend._buffers[signature][0]
            if signature == body and any(
                inputs[n] is not written[n] for n in inputs
            ):
                raise RuntimeError("The given buffer type is not supported.")
            return run_by_name(signature, inputs, outputs)

    runner._backend.model = Refusing()
    outputs = runner.predict(images)
    for key, value in expected.items():
        np.testing.assert_array_equal(outputs[key], value)
    assert runner.signatures_through_host == [body]
    assert runner.device_buffers
    # Refused once, then written through the host for every image.
    assert fed.count(body) == len(images) + 1


def test_bad_inputs(staged):
    _, export = staged
    runner = StagedRunner(export.manifest_path, accelerator="cpu")
    with pytest.raises(ValueError, match="one image at a time"):
        runner(random_images(2))
    with pytest.raises(ValueError, match="shape"):
        runner(random_images(1, size=8))
    with pytest.raises(ValueError, match="accelerator"):
        StagedRunner(export.manifest_path, accelerator="npu")


def test_manifest_errors(staged, tmp_path):
    _, export = staged
    manifest = json.load(open(export.manifest_path))
    model_copy = tmp_path / "lc_staged.tflite"
    content = open(export.path, "rb").read()

    def write(data, name="m.json"):
        path = tmp_path / name
        path.write_text(json.dumps(data))
        return str(path)

    with pytest.raises(FileNotFoundError, match="No staged manifest"):
        StagedRunner(str(tmp_path / "none.json"))
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{ not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        StagedRunner(str(bad_json))
    with pytest.raises(ValueError, match="not an lcnet-tf staged manifest"):
        StagedRunner(write({"format": "other"}))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        StagedRunner(write(manifest))
    # A different model file next to the manifest: the hash catches it.
    model_copy.write_bytes(content[:-8] + b"\0" * 8)
    with pytest.raises(ValueError, match="does not match"):
        StagedRunner(write(manifest))
    model_copy.write_bytes(content)
    renamed = dict(manifest, blocks=[dict(manifest["blocks"][0], body="x")])
    with pytest.raises(ValueError, match="signatures"):
        StagedRunner(write(renamed), accelerator="cpu")
    incomplete = dict(manifest, blocks=[{"name": "b"}])
    with pytest.raises(ValueError, match="lacks fields"):
        StagedRunner(write(incomplete))


def test_trace_records_what_the_runner_did(staged):
    from lcnet_tf.export.staged_trace import decode_floats
    from lcnet_tf.export.staged_trace import record_staged_trace

    model, export = staged
    images = random_images(4, seed=5)
    trace = record_staged_trace(export.manifest_path, images, [1, 2, 3, 4])
    direct = StagedRunner(export.manifest_path, accelerator="cpu").predict(
        images
    )
    assert (
        trace["manifest"]["blocks"]
        == read_manifest(export.manifest_path)[0]["blocks"]
    )
    for index, entry in enumerate(trace["images"]):
        np.testing.assert_array_equal(
            decode_floats(entry["image"]), images[index].reshape(-1)
        )
        np.testing.assert_allclose(
            decode_floats(entry["logits"]), direct["logits"][index], 1e-6
        )
        assert entry["flops"] == direct["flops"][index]
        calls = [call["signature"] for call in entry["calls"]]
        assert calls[0] == "stem" and calls[-1] == "head"
        bodies = [c for c in calls if c.endswith("_body")]
        runs = [d[0] for d in entry["decisions"]]
        # block0 is skippable; the other two always run.
        assert len(bodies) == 2 + int(runs[0] > 0.5)
        head = entry["calls"][-1]
        np.testing.assert_allclose(
            decode_floats(head["outputs"]["logits"]["data"]),
            decode_floats(entry["logits"]),
        )
        # Feature maps are recorded by shape only.
        assert "data" not in entry["calls"][0]["outputs"]["features"]
        assert entry["label"] == index + 1


def test_manifest_flops_are_the_blocks_own(staged):
    from lcnet_tf.flops import fixed_flops
    from lcnet_tf.flops import gated_blocks

    model, export = staged
    manifest, _ = read_manifest(export.manifest_path)
    blocks = {b.name: b for b in gated_blocks(model)}
    inside = 0
    for stage in manifest["blocks"]:
        block = blocks.get(stage["name"]) or model.get_layer(stage["name"])
        always, body = stage["flops"]["always"], stage["flops"]["body"]
        assert always + body == block.flops_for(1, block.filters)
        if stage["skippable"]:
            # The staged gate signature runs the channel head too, so a
            # skipped block costs that head more than in Keras' count.
            channel = block.channel_gate
            extra = channel.head_flops() if channel is not None else 0
            assert always == block.flops_for(0, block.filters) + extra
        inside += block.flops_for(1, block.filters)
    assert manifest["flops"]["outside_blocks"] + inside == (
        fixed_flops(model) + sum(b.open_flops() for b in blocks.values())
    )
