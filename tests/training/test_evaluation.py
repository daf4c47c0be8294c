import numpy as np
import pytest
import tensorflow as tf

from lcnet_tf import flops
from lcnet_tf.models import cifar_resnet
from lcnet_tf.training import evaluate_model
from lcnet_tf.training import format_report
from lcnet_tf.training import gate_decisions
from lcnet_tf.training import per_image_results
from lcnet_tf.training import write_report
from lcnet_tf.training.gate_decisions import block_input_batches
from lcnet_tf.training.routing_stats import routing_codes
from tests.fixtures import random_images


def _spread_gates(model):
    for block in flops.gated_blocks(model):
        for gate in block.gates:
            kernel = gate.keep_logits.kernel
            rng = np.random.default_rng(gate.units)
            kernel.assign(rng.normal(0, 2, kernel.shape))
            gate.keep_logits.bias.assign(np.zeros(gate.units))


def test_report_agrees_with_keras_and_flops(tmp_path):
    model = cifar_resnet(8, gating="lc")
    _spread_gates(model)
    x = random_images(20)
    y = np.arange(20) % 10
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    report = evaluate_model(model, dataset)
    logits = model.predict(x, verbose=0)
    assert report["num_images"] == 20
    assert report["top1"] == np.mean(np.argmax(logits, -1) == y)
    per_image = flops.flops_per_image(model, x)
    assert report["flops_mean"] == pytest.approx(per_image.mean())
    assert report["flops_min"] == per_image.min()
    assert report["static_flops"] == flops.count_flops(model, gates=False)
    assert set(report["keep_rates"]) == {
        b.name for b in flops.gated_blocks(model)
    }
    text = format_report(report)
    assert "top-1 accuracy" in text and "stage1_block1" in text
    write_report(report, tmp_path / "r.json")
    assert (tmp_path / "r.json").read_text().startswith("{")
    # Results already computed give the same report, without the data.
    results = per_image_results(model, dataset)
    assert evaluate_model(model, [], results=results) == report


@pytest.mark.parametrize(
    "fields", [{}, dict(channel_selection="nested", channel_groups=4)]
)
def test_one_pass_routing_equals_the_gates_called_alone(fields):
    # `per_image_results` reads every gate in the pass that gives the
    # logits; the codes must be those of the gates called on the
    # blocks' inputs one by one.
    model = cifar_resnet(8, gating="lc", **fields)
    _spread_gates(model)
    x = random_images(24)
    # Block gates at their median keep probability on these images,
    # so about half of them run each block; a prefix of groups runs
    # while every group up to it keeps, so nested gates keep more.
    blocks = flops.gated_blocks(model)
    features = next(block_input_batches(model, blocks, x, len(x)))
    for block, inputs in zip(blocks, features):
        if block.block_gate is not None:
            prob = block.block_gate(inputs)[2]
            block.block_gate.tau = float(np.median(prob))
        if fields:
            block.channel_gate.tau = 0.1
    dataset = [(x[:16], np.zeros(16, int)), (x[16:], np.zeros(8, int))]
    results = per_image_results(model, dataset)
    blocks, channels = routing_codes(model, gate_decisions(model, x))
    np.testing.assert_array_equal(results["block_runs"], blocks)
    np.testing.assert_array_equal(results["channel_decisions"], channels)
    # Gates that decide per image, so the comparison means something.
    assert 0 < blocks.mean() < 1 and 0 < channels.mean() < 1
    assert len(np.unique(channels, axis=0)) > 1


def test_static_model_report():
    model = cifar_resnet(8)
    dataset = [(random_images(4), np.zeros(4, int))]
    report = evaluate_model(model, dataset)
    assert report["flops_ratio"] == 1.0 and report["keep_rates"] == {}


def test_nan_batch_and_empty_dataset():
    model = cifar_resnet(8, gating="l")
    x = random_images(4)
    x[2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        evaluate_model(model, [(x, np.zeros(4, int))])
    with pytest.raises(ValueError, match="empty"):
        evaluate_model(model, [])


def _close_every_channel(gate):
    gate.keep_logits.kernel.assign(np.zeros(gate.keep_logits.kernel.shape))
    gate.keep_logits.bias.assign(np.full(gate.units, -50.0))


@pytest.mark.parametrize("min_groups", [0, 1])
def test_report_names_a_block_its_channel_gate_shut(min_groups):
    model = cifar_resnet(
        8,
        gating="lc",
        channel_selection="nested",
        channel_groups=8,
        channel_min_groups=min_groups,
    )
    blocks = {b.name: b for b in flops.gated_blocks(model)}
    # stage2_block1 changes shape, so it has no block gate; close every
    # group of its channel gate.
    assert blocks["stage2_block1"].always_runs
    _close_every_channel(blocks["stage2_block1"].channel_gate)
    dataset = [(random_images(6), np.zeros(6, int))]
    report = evaluate_model(model, dataset)
    text = format_report(report)
    if min_groups:
        assert report["shut_blocks"] == {}
        assert "warning" not in text
    else:
        assert report["shut_blocks"] == {"stage2_block1": 1.0}
        assert "stage2_block1 ran no channel on 100.0%" in text


def test_shut_blocks_leave_out_blocks_that_may_be_skipped():
    # A C-Net has no block gates: closing every channel of a block that
    # keeps its shape is a skip, of one that changes shape a lost block.
    model = cifar_resnet(8, gating="c")
    blocks = {b.name: b for b in flops.gated_blocks(model)}
    for name in ("stage1_block1", "stage2_block1"):
        _close_every_channel(blocks[name].channel_gate)
    report = evaluate_model(model, [(random_images(4), np.zeros(4, int))])
    assert report["keep_rates"]["stage1_block1"] == 0.0
    assert report["shut_blocks"] == {"stage2_block1": 1.0}
