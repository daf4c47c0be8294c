"""Free channel gates reordered and run as a prefix (`"prefix"` chunks)."""

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
from lcnet_tf.flops import gated_blocks
from lcnet_tf.models import set_threshold
from lcnet_tf.training.gate_decisions import gate_decisions
from tests.export.conftest import make_model
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
        plans = channel_plans(model, calibration)
        needed = _needed_widths(model, plans, images)
        expected = np.full(len(images), network.fixed_flops, np.int64)
        for i, block in enumerate(gated_blocks(model)):
            run = np.rint(reference["decisions"][:, i, 0]).astype(np.int64)
            if block.block_gate is None:
                run = np.ones_like(run)
            widths = np.asarray(plans[block.name].widths)
            chosen = widths[np.searchsorted(widths, needed[block.name])]
            expected += np.asarray(block.flops_for(run, chosen), np.int64)
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
    with pytest.raises(ValueError, match="No blocks with a free channel"):
        reorder_channels(network, {"no_such_block": ChannelPlan(order, full)})
