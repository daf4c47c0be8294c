import numpy as np
import pytest
import tensorflow as tf

from lcnet_tf.flops import gated_blocks
from lcnet_tf.models import cifar_resnet
from lcnet_tf.training import block_gate_coupling
from lcnet_tf.training import evaluate_model
from lcnet_tf.training import format_report
from lcnet_tf.training import independent_block_routings
from lcnet_tf.training import routing_stats
from lcnet_tf.training.routing_stats import MAX_ENUMERATED_GATES
from tests.fixtures import random_images
from tests.fixtures import randomize_gates


def _lc14():
    return cifar_resnet(
        14, gating="lc", input_shape=(8, 8, 3), channel_groups=8
    )


def test_counts_routings_percentiles_and_conditional_gates():
    model = _lc14()
    blocks = gated_blocks(model)
    block_gates = sum(b.block_gate is not None for b in blocks)
    channel_gates = sum(b.channel_gate.units for b in blocks)
    assert (block_gates, channel_gates) == (4, 28)
    n = 100
    runs = np.ones((n, block_gates), np.int8)
    runs[:30, 0] = 0  # block 0 runs on 70% of images
    runs[:50, 1] = 0  # block 1 on 50%; blocks 2 and 3 always
    channels = np.ones((n, channel_gates), np.int8)
    channels[:, 0] = 0  # a channel gate that is always off
    channels[::2, 5] = 0  # one that decides per image
    results = {
        "flops": np.arange(1, n + 1, dtype=np.int64) * 100,
        "block_runs": runs,
        "channel_decisions": channels,
    }
    stats = routing_stats(model, results)
    # Block patterns: (0,0,1,1) x30, (1,0,1,1) x20, (1,1,1,1) x50.
    assert stats["distinct_block_routings"] == 3
    assert stats["top_routing"] == [1, 1, 1, 1]
    assert stats["top_routing_share"] == 0.5
    # Channel gate 5 splits each block pattern in two.
    assert stats["distinct_routings"] == 6
    np.testing.assert_allclose(
        [stats["flops_p10"], stats["flops_p50"], stats["flops_p90"]],
        np.percentile(results["flops"], [10, 50, 90]),
    )
    # Conditional: blocks 0 and 1, and channel gate 5 (32 gates in all).
    assert stats["num_gates"] == 32
    np.testing.assert_allclose(stats["conditional_gate_share"], 3 / 32)


def test_channel_rates_count_only_images_whose_block_ran():
    model = _lc14()
    n = 10
    runs = np.ones((n, 4), np.int8)
    runs[:5, 0] = 0
    channels = np.ones((n, 28), np.int8)
    # Block 0 (stage1_block1) owns channel columns 0 and 1: off wherever
    # the block is skipped, on wherever it runs.
    channels[:5, 0:2] = 0
    results = {
        "flops": np.ones(n, np.int64),
        "block_runs": runs,
        "channel_decisions": channels,
    }
    assert [b.name for b in gated_blocks(model)][:2] == [
        "stage1_block1",
        "stage1_block2",
    ]
    # Only block 0 decides per image; its channels always run when it does.
    assert routing_stats(model, results)["conditional_gate_share"] == 1 / 32


def test_evaluation_report_measures_routing():
    model = _lc14()
    randomize_gates(model, seed=1)
    images = random_images(n=40, size=8)
    labels = np.zeros(40, np.int32)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(16)
    report = evaluate_model(model, dataset, agreement_images=images)
    routing = report["routing"]
    assert routing["distinct_block_routings"] > 1
    assert routing["flops_p10"] <= routing["flops_p50"] <= routing["flops_p90"]
    assert report["flops_min"] <= routing["flops_p10"]
    assert 0 < report["train_inference_agreement"]["agreement"] <= 1
    # Random gates couple less than substitutes do; the count they would
    # reach alone bounds the one they reach from below only loosely.
    assert 0 <= routing["block_gate_coupling"] < 1
    assert routing["independent_block_routings"] >= 1
    assert "gate coupling" in format_report(report)
    static = evaluate_model(cifar_resnet(8, input_shape=(8, 8, 3)), dataset)
    assert "routing" not in static


def test_independent_routings_and_coupling_of_substitute_gates():
    n = 100
    runs = np.ones((n, 3), np.int8)
    # Gates 0 and 1 substitute for each other: exactly one runs.
    runs[::2, 0] = 0
    runs[1::2, 1] = 0
    assert len(np.unique(runs, axis=0)) == 2
    # Deciding alone at rate 0.5 each, four routings of q = 1/4.
    np.testing.assert_allclose(
        independent_block_routings(runs),
        4 * (1 - 0.75**n),
    )
    # Gate 2 always runs and is left out of the correlation.
    assert block_gate_coupling(runs) == 1.0


def test_independent_gates_are_uncoupled():
    # A full factorial: every pattern of three gates, ten times each.
    patterns = np.array(list(np.ndindex(2, 2, 2)), np.int8)
    runs = np.repeat(patterns, 10, axis=0)
    np.testing.assert_allclose(block_gate_coupling(runs), 0.0, atol=1e-12)
    expected = independent_block_routings(runs)
    np.testing.assert_allclose(expected, 8 * (1 - (7 / 8) ** 80))
    # A tiny routing probability is counted, not rounded to zero.
    rare = np.ones((10**6, 1), np.int8)
    rare[0, 0] = 0
    np.testing.assert_allclose(
        independent_block_routings(rare),
        1 + (1 - (1 - 1e-6) ** 10**6),
        rtol=1e-9,
    )


def test_independent_routings_limits_and_errors():
    many = np.tile(np.array([[0, 1], [1, 0]], np.int8), (5, 11))
    assert many.shape[1] > MAX_ENUMERATED_GATES
    assert independent_block_routings(many) is None
    # Gates fixed on or off give the one routing they take.
    fixed = np.tile(np.array([[1, 0, 1]], np.int8), (5, 1))
    assert independent_block_routings(fixed) == 1.0
    assert block_gate_coupling(fixed) == 0.0
    with pytest.raises(ValueError, match="block_runs"):
        independent_block_routings(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="block_runs"):
        independent_block_routings(np.zeros(5))
