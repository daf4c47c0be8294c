"""Nested channel selection through every export form."""

import os

import numpy as np
import pytest

from lcnet_tf.export import StagedRunner
from lcnet_tf.export import TFLiteModel
from lcnet_tf.export import keras_reference
from lcnet_tf.export import parity_report
from lcnet_tf.export import to_tflite
from lcnet_tf.export.gpu_compatibility import check_gpu_compatible
from tests.export.conftest import make_model
from tests.export.conftest import predict_staged
from tests.fixtures import random_images


@pytest.fixture(
    scope="module",
    params=[("basic", "learned"), ("basic", "gate"), ("bottleneck", "learned")],
    ids="-".join,
)
def model(request):
    kind, scale = request.param
    return make_model(
        "lc",
        kind=kind,
        channel_groups=4,
        channel_selection="nested",
        scale=scale,
    )


def _assert_export_decides_as_keras(model, images, form, path):
    """Exports `model` in `form`; same logits and decisions as Keras."""
    reference = keras_reference(model, images)
    export = to_tflite(model, path, form)
    if form == "staged":
        outputs = StagedRunner(export.manifest_path).predict(images)
    else:
        outputs = TFLiteModel(export.path).predict(images)
    report = parity_report(reference, outputs)
    assert report["max_logit_diff"] < 1e-4, report
    assert report["decision_agreement"] == 1.0, report
    return export


@pytest.mark.parametrize("form", ["masked", "dynamic", "staged"])
def test_nested_exports_decide_as_keras(model, form, export_dir):
    images = random_images(6, seed=21)
    export = _assert_export_decides_as_keras(
        model, images, form, os.path.join(export_dir, f"n_{form}.tflite")
    )
    if form != "dynamic":
        # No CUMPROD: the prefix is matrix arithmetic the GPU delegate runs.
        assert check_gpu_compatible(export.path).compatible


def test_dynamic_form_runs_only_the_chosen_width(model, export_dir):
    from lcnet_tf.export import executed_flops
    from lcnet_tf.export import fold_model
    from lcnet_tf.models import set_threshold

    images = random_images(8, seed=22)
    seen = set()
    # Thresholds are baked into an export: one export per threshold, so
    # several widths (and closed blocks) are exercised whatever the gates.
    for tau in (0.0, 0.5, 1.0):
        set_threshold(model, tau, kind="channel")
        reference = keras_reference(model, images)
        path = os.path.join(export_dir, f"w{tau}.tflite")
        outputs = TFLiteModel(to_tflite(model, path, "dynamic").path).predict(
            images
        )
        ran = executed_flops(
            fold_model(model), outputs["decisions"], outputs["chunks"]
        )
        # Nothing masked: the graph computes exactly what is kept.
        np.testing.assert_array_equal(ran, reference["flops"])
        seen.update(reference["flops"].tolist())
    set_threshold(model, 0.5)
    assert len(seen) >= 3


def _conditionals(block, widths):
    """`IF`s of a C-gated block with `widths` widths in the dynamic form:
    one per width, side by side over the skip; without a block gate none
    for one width and one for two."""
    if block.block_gate is None and widths <= 2:
        return widths - 1
    return widths


def test_planned_widths_alone_get_a_conditional(model, export_dir):
    from lcnet_tf.export import executed_flops
    from lcnet_tf.export import fold_model
    from lcnet_tf.export.channel_order import ChannelPlan
    from lcnet_tf.export.channel_order import channel_plans
    from lcnet_tf.export.channel_order import reorder_channels
    from lcnet_tf.flops import gated_blocks
    from lcnet_tf.models import set_threshold

    # Blank calibration images list one width per block besides the
    # full one, so test images also need widths without a conditional.
    calibration = np.zeros_like(random_images(2, seed=25))
    images = random_images(8, seed=26)
    blocks = gated_blocks(model)
    network = fold_model(model)
    widened = two_way = 0
    for tau in (0.0, 0.5, 1.0):
        set_threshold(model, tau, kind="channel")
        reference = keras_reference(model, images)
        plans = channel_plans(model, calibration)
        conditionals = {}
        for chunks in (None, "prefix"):
            path = os.path.join(export_dir, f"plan{tau}{chunks}.tflite")
            export = to_tflite(
                model,
                path,
                "dynamic",
                channel_chunks=chunks,
                representative_data=calibration,
            )
            outputs = TFLiteModel(export.path).predict(images)
            report = parity_report(reference, outputs)
            assert report["max_logit_diff"] < 1e-4, report
            assert report["decision_agreement"] == 1.0, report
            counts = check_gpu_compatible(export.path).op_counts
            conditionals[chunks] = counts.get("IF", 0)
        # Each block ran the narrowest planned width that holds its kept
        # groups (a prefix keeps its order), nothing else.
        expected = np.full(len(images), network.fixed_flops, np.int64)
        fewer = 0
        for i, block in enumerate(blocks):
            run = np.rint(reference["decisions"][:, i, 0]).astype(np.int64)
            if block.block_gate is None:
                run = np.ones_like(run)
            kept = np.rint(reference["decisions"][:, i, 1] * block.filters)
            widths = np.asarray(plans[block.name].widths)
            assert np.all(plans[block.name].order == np.arange(block.filters))
            ran = widths[np.searchsorted(widths, kept.astype(np.int64))]
            widened += int(np.sum((ran > kept) * run))
            expected += np.asarray(block.flops_for(run, ran), np.int64)
            every = block.filters // block.channel_gate.groups + 1
            fewer += _conditionals(block, every)
            fewer -= _conditionals(block, len(widths))
            two_way += block.block_gate is None and len(widths) == 2
        ran = executed_flops(
            network, outputs["decisions"], outputs["chunks"], "prefix"
        )
        np.testing.assert_array_equal(ran, expected)
        assert conditionals[None] - conditionals["prefix"] == fewer
    set_threshold(model, 0.5)
    # Some images ran a wider width than they kept, and some block chose
    # between two widths under one conditional.
    assert widened > 0
    assert two_way > 0
    # A nested gate keeps a prefix: its channels cannot be reordered.
    block = next(b for b in network.blocks if b.channel_gate)
    backwards = ChannelPlan(np.arange(block.filters)[::-1], (block.filters,))
    with pytest.raises(ValueError, match="nested channel gate"):
        reorder_channels(network, {block.name: backwards})


def test_staged_form_runs_the_body_of_the_kept_width(model, export_dir):
    from lcnet_tf.flops import gated_blocks
    from lcnet_tf.models import set_threshold

    images = random_images(8, seed=23)
    blocks = gated_blocks(model)
    widths_run = set()
    for tau in (0.0, 0.5, 1.0):
        set_threshold(model, tau, kind="channel")
        reference = keras_reference(model, images)
        path = os.path.join(export_dir, f"s{tau}.tflite")
        export = to_tflite(model, path, "staged")
        outputs, calls = predict_staged(export.manifest_path, images)
        assert parity_report(reference, outputs)["decision_agreement"] == 1
        # The full (masked) body never runs for a nested block: the body
        # of the kept width does.
        bodies = [c for c in calls if "_body" in c]
        assert all("_body_w" in c for c in bodies), bodies
        widths_run.update(int(c.rsplit("_w", 1)[1]) for c in bodies)
        # Exactly Keras' FLOPs, plus the channel head that the staged
        # gate signature also runs for a skipped block.
        decisions = reference["decisions"]
        extra = sum(
            (decisions[:, i, 0] < 0.5) * block.channel_gate.head_flops()
            for i, block in enumerate(blocks)
            if block.block_gate is not None
        )
        np.testing.assert_array_equal(
            outputs["flops"], reference["flops"] + extra
        )
    set_threshold(model, 0.5)
    assert len(widths_run) >= 3, widths_run


def test_int8_staged_export_calibrates_every_width_body(export_dir):
    model = make_model(
        "lc", channel_groups=4, channel_selection="nested", scale="learned"
    )
    images = random_images(8, seed=24)
    sizes = {}
    for quantization in (None, "int8"):
        path = os.path.join(export_dir, f"q_{quantization}.tflite")
        export = to_tflite(
            model,
            path,
            "staged",
            quantization=quantization,
            representative_data=images,
        )
        sizes[quantization] = os.path.getsize(export.path)
        outputs = StagedRunner(export.manifest_path, accelerator="cpu")(
            images[:1]
        )
        assert np.all(np.isfinite(outputs["logits"]))
    # Width bodies are most of the weights: left uncalibrated, they stay
    # float and the int8 file is not much smaller than the float one.
    assert sizes["int8"] < 0.4 * sizes[None], sizes


def test_staged_manifest_width_errors_name_the_block(tmp_path):
    import json
    import shutil

    from lcnet_tf.export.staged_host import run_staged
    from lcnet_tf.models import set_threshold

    model = make_model("lc", channel_groups=4, channel_selection="nested")
    set_threshold(model, 0.0)
    export = to_tflite(model, str(tmp_path / "n.tflite"), "staged")
    manifest = json.load(open(export.manifest_path))
    index = next(i for i, b in enumerate(manifest["blocks"]) if "widths" in b)
    block = manifest["blocks"][index]
    name, channels = block["name"], block["channels"]

    def runner_for(blocks, label):
        folder = tmp_path / label
        folder.mkdir()
        shutil.copy(export.path, folder / "n.tflite")
        path = folder / "n.json"
        path.write_text(json.dumps(dict(manifest, blocks=blocks)))
        return lambda: StagedRunner(str(path), accelerator="cpu")

    def with_block(**changes):
        blocks = [dict(b) for b in manifest["blocks"]]
        blocks[index] = dict(block, **changes)
        return blocks

    # A width signature the file has but the manifest leaves out.
    dropped = {k: v for k, v in block["widths"].items() if k != "4"}
    flops = dict(
        block["flops"],
        body_by_width={
            k: v for k, v in block["flops"]["body_by_width"].items() if k != "4"
        },
    )
    runner = runner_for(with_block(widths=dropped, flops=flops), "extra")
    with pytest.raises(ValueError, match=f"width signatures .* '{name}'"):
        runner()
    # A width the block does not have.
    wider = dict(block["widths"], **{str(channels + 4): block["body"]})
    runner = runner_for(with_block(widths=wider), "wider")
    with pytest.raises(ValueError, match=f"'{name}' has {channels} channels"):
        runner()
    # Bodies and FLOPs of different widths.
    runner = runner_for(with_block(widths=dropped), "flops")
    with pytest.raises(ValueError, match=f"'{name}' has FLOPs for widths"):
        runner()
    # A missing width signature.
    gone = dict(block["widths"], **{"4": "no_such_body"})
    runner = runner_for(with_block(widths=gone), "missing")
    with pytest.raises(ValueError, match="no_such_body"):
        runner()
    # A decision the manifest has no body for, found while running: with
    # every gate open, the block keeps all its channels.
    narrow = [dict(b) for b in manifest["blocks"]]
    narrow[index] = dict(block, widths={"0": block["widths"]["0"]})
    run = StagedRunner(export.manifest_path, accelerator="cpu")._run
    with pytest.raises(ValueError, match=f"Block '{name}' kept {channels} "):
        run_staged(dict(manifest, blocks=narrow), run, random_images(1))


@pytest.mark.parametrize("form", ["masked", "dynamic", "staged"])
def test_min_groups_run_in_every_form(form, export_dir):
    from lcnet_tf.flops import gated_blocks

    model = make_model(
        "lc",
        channel_groups=4,
        channel_selection="nested",
        channel_min_groups=1,
    )
    # Push every channel group towards closed: only the first must run.
    for block in gated_blocks(model):
        if block.channel_gate is not None:
            bias = block.channel_gate.keep_logits.bias
            bias.assign(np.full(bias.shape, -3.0, "float32"))
    images = random_images(6, seed=23)
    reference = keras_reference(model, images)
    shares = reference["decisions"][..., 1]
    runs = reference["decisions"][..., 0] > 0
    # The narrowest width (one group of 4 of a block's 16 or more
    # channels) at least, and images differ above it.
    assert (shares[runs] >= 4 / 64).all() and (shares[runs] > 0).all()
    assert len(np.unique(shares[runs])) > 1
    _assert_export_decides_as_keras(
        model, images, form, os.path.join(export_dir, f"min_{form}.tflite")
    )
