"""Free channel gates reordered and run as a prefix (`"prefix"` chunks)."""

import json
import os

import numpy as np
import pytest

from lcnet_tf.export import TFLiteModel
from lcnet_tf.export import executed_flops
from lcnet_tf.export import fold_model
from lcnet_tf.export import keras_reference
from lcnet_tf.export import parity_report
from lcnet_tf.export import to_tflite
from lcnet_tf.export.channel_order import ChannelPlan
from lcnet_tf.export.channel_order import channel_plans
from lcnet_tf.export.channel_order import prefix_step
from lcnet_tf.export.channel_order import reorder_channels
from lcnet_tf.export.manifest import read_manifest
from lcnet_tf.flops import gated_blocks
from lcnet_tf.models import set_threshold
from lcnet_tf.training.gate_decisions import gate_decisions
from tests.export.conftest import make_model
from tests.export.conftest import predict_staged
from tests.fixtures import random_images


@pytest.fixture(
    scope="module",
    params=[
        ("lc", "basic", 1, "learned"),
        ("c", "basic", 2, "gate"),
        ("lc", "bottleneck", 1, "learned"),
    ],
    ids=lambda p: "-".join(map(str, p)),
)
def model(request):
    gating, kind, groups, scale = request.param
    return make_model(gating, kind=kind, channel_groups=groups, scale=scale)


def _needed_widths(model, plans, images):
    """Per image and free C-gated block: its channels up to the last kept
    one in the plan's order, rounded up to the block's step (from Keras'
    decisions; 0 where the block is skipped)."""
    decisions = gate_decisions(model, images)
    needed = {}
    for block in gated_blocks(model):
        if block.name not in plans:
            continue
        channels = decisions[block.name]["channels"]
        groups = block.filters // channels.shape[1]
        order = plans[block.name].order
        kept = np.repeat(channels, groups, axis=1)[:, order] > 0
        last = np.where(
            kept.any(axis=1), kept.shape[1] - np.argmax(kept[:, ::-1], 1), 0
        )
        step = prefix_step(block.filters, groups)
        needed[block.name] = -(-last // step) * step
    return needed


def _prefix_flops(model, calibration, images, reference):
    """Exact FLOPs of running each free C-gated block at the narrowest
    planned width that holds its last kept channel."""
    plans = channel_plans(model, calibration)
    needed = _needed_widths(model, plans, images)
    expected = np.full(len(images), fold_model(model).fixed_flops, np.int64)
    for i, block in enumerate(gated_blocks(model)):
        run = np.rint(reference["decisions"][:, i, 0]).astype(np.int64)
        if block.block_gate is None:
            run = np.ones_like(run)
        if block.name in plans:
            widths = np.asarray(plans[block.name].widths)
            kept = widths[np.searchsorted(widths, needed[block.name])]
        else:
            kept = np.rint(
                reference["decisions"][:, i, 1] * block.filters
            ).astype(np.int64)
        expected += np.asarray(block.flops_for(run, kept), np.int64)
    return expected


def test_prefix_export_decides_as_keras_and_runs_the_prefix(model, export_dir):
    calibration = random_images(16, seed=31)
    images = random_images(8, seed=32)
    seen = set()
    for tau in (0.0, 0.4, 0.5, 0.6, 1.0):
        set_threshold(model, tau, kind="channel")
        reference = keras_reference(model, images)
        path = os.path.join(export_dir, f"prefix{tau}.tflite")
        export = to_tflite(
            model,
            path,
            "dynamic",
            channel_chunks="prefix",
            representative_data=calibration,
        )
        outputs = TFLiteModel(export.path).predict(images)
        report = parity_report(reference, outputs)
        assert report["max_logit_diff"] < 1e-4, report
        assert report["decision_agreement"] == 1.0, report
        # What ran is, per block, the narrowest planned width that holds
        # the last kept channel, in the order the calibration images gave
        # at this threshold.
        network = fold_model(model)
        ran = executed_flops(
            network, outputs["decisions"], outputs["chunks"], "prefix"
        )
        expected = _prefix_flops(model, calibration, images, reference)
        np.testing.assert_array_equal(ran, expected)
        assert np.all(ran >= reference["flops"])
        seen.update(ran.tolist())
    set_threshold(model, 0.5)
    assert len(seen) >= 3
    assert set(channel_plans(model, calibration)) == {
        b.name for b in gated_blocks(model) if b.channel_gate is not None
    }


def test_plans_put_most_kept_channels_first_and_list_common_widths(model):
    images = random_images(16, seed=33)
    plans = channel_plans(model, images)
    every = channel_plans(model, images, min_share=0.0)
    full = channel_plans(model, images, min_share=1.0)
    decisions = gate_decisions(model, images)
    needed = _needed_widths(model, every, images)
    for name, plan in plans.items():
        rates = decisions[name]["channels"].mean(axis=0)
        groups = len(plan.order) // len(rates)
        assert sorted(plan.order.tolist()) == list(range(len(plan.order)))
        sorted_rates = np.repeat(rates, groups)[plan.order]
        assert np.all(np.diff(sorted_rates) <= 0), name
        filters = len(plan.order)
        assert plan.widths[-1] == filters
        # With no share required, every width an image that runs the
        # block needs is listed; requiring all of them leaves at most
        # one width besides the full one.
        run = decisions[name]["run"] > 0
        assert set(every[name].widths) == set(needed[name][run].tolist()) | {
            filters
        }
        assert set(plan.widths) <= set(every[name].widths)
        assert len(full[name].widths) <= 2
    with pytest.raises(ValueError, match="`min_share` must be in"):
        channel_plans(model, images, min_share=1.5)


def test_prefix_needs_images_and_a_permutation(model, export_dir):
    with pytest.raises(ValueError, match="`channel_chunks='prefix'` needs"):
        to_tflite(
            model,
            os.path.join(export_dir, "x.tflite"),
            "dynamic",
            channel_chunks="prefix",
        )
    network = fold_model(model)
    block = next(b for b in network.blocks if b.channel_gate)
    full = (block.filters,)
    with pytest.raises(ValueError, match="must be a permutation"):
        reorder_channels(
            network, {block.name: ChannelPlan(np.zeros(4, int), full)}
        )
    order = np.arange(block.filters)
    for widths in ((block.filters, 0), (0,), (1, block.filters)):
        with pytest.raises(ValueError, match="widths of block"):
            reorder_channels(network, {block.name: ChannelPlan(order, widths)})
    with pytest.raises(ValueError, match="No blocks with a channel gate"):
        reorder_channels(network, {"no_such_block": ChannelPlan(order, full)})


def test_staged_prefix_runs_the_width_body_that_holds_the_kept_channels(
    model, export_dir
):
    calibration = random_images(16, seed=34)
    images = random_images(8, seed=35)
    blocks = gated_blocks(model)
    widths_run = set()
    for tau in (0.0, 0.45, 0.55, 1.0):
        set_threshold(model, tau, kind="channel")
        reference = keras_reference(model, images)
        export = to_tflite(
            model,
            os.path.join(export_dir, f"staged_prefix{tau}.tflite"),
            "staged",
            channel_chunks="prefix",
            representative_data=calibration,
        )
        manifest, _ = read_manifest(export.manifest_path)
        with_widths = {
            b["body"]: b for b in manifest["blocks"] if "widths" in b
        }
        assert all(
            b["channel_selection"] == "prefix" for b in with_widths.values()
        )
        outputs, calls = predict_staged(export.manifest_path, images)
        report = parity_report(reference, outputs)
        assert report["max_logit_diff"] < 1e-4, report
        assert report["decision_agreement"] == 1.0, report
        # A block with width bodies never runs its full masked body.
        assert not set(calls) & set(with_widths)
        widths_run.update(c for c in calls if "_body_w" in c)
        # The same widths as the dynamic prefix form, plus the channel
        # head that a staged gate signature runs for a skipped block.
        extra = sum(
            (reference["decisions"][:, i, 0] < 0.5)
            * block.channel_gate.head_flops()
            for i, block in enumerate(blocks)
            if block.block_gate is not None and block.channel_gate
        )
        np.testing.assert_array_equal(
            outputs["flops"],
            _prefix_flops(model, calibration, images, reference) + extra,
        )
    set_threshold(model, 0.5)
    assert len(widths_run) >= 2, widths_run


def test_prefix_manifest_and_form_errors_name_the_problem(model, export_dir):
    calibration = random_images(16, seed=36)
    with pytest.raises(ValueError, match="does not apply to the masked"):
        to_tflite(
            model,
            os.path.join(export_dir, "m.tflite"),
            "masked",
            channel_chunks="prefix",
            representative_data=calibration,
        )
    with pytest.raises(ValueError, match="does not apply to the staged"):
        to_tflite(
            model,
            os.path.join(export_dir, "s.tflite"),
            "staged",
            channel_chunks="groups",
        )
    export = to_tflite(
        model,
        os.path.join(export_dir, "p.tflite"),
        "staged",
        channel_chunks="prefix",
        representative_data=calibration,
    )
    manifest = json.load(open(export.manifest_path))
    index = next(i for i, b in enumerate(manifest["blocks"]) if "widths" in b)
    block = manifest["blocks"][index]
    name, channels = block["name"], block["channels"]

    def written(label, **changes):
        blocks = [dict(b) for b in manifest["blocks"]]
        blocks[index] = dict(block, **changes)
        path = os.path.join(export_dir, f"{label}.json")
        with open(path, "w") as f:
            json.dump(dict(manifest, blocks=blocks), f)
        return path

    # A prefix block may start at any width but must end at its channels.
    widths = {k: v for k, v in block["widths"].items() if int(k) < channels}
    flops = dict(
        block["flops"],
        body_by_width={
            k: v
            for k, v in block["flops"]["body_by_width"].items()
            if k in widths
        },
    )
    path = written("short", widths=widths, flops=flops)
    with pytest.raises(ValueError, match=f"'{name}' has {channels} channels"):
        read_manifest(path, check_model=False)
    path = written("selection", channel_selection="sorted")
    with pytest.raises(ValueError, match="channel_selection 'sorted'"):
        read_manifest(path, check_model=False)
