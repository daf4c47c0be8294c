import numpy as np
import pytest

from lcnet_tf.flops import flops_per_image
from lcnet_tf.models import cifar_resnet
from lcnet_tf.training import decision_agreement
from lcnet_tf.training import gate_decisions
from lcnet_tf.training.gate_decisions import decisions_flops
from tests.fixtures import random_images
from tests.fixtures import randomize_gates


def _model(gating="lc", **kwargs):
    model = cifar_resnet(
        14, gating=gating, input_shape=(16, 16, 3), channel_groups=4, **kwargs
    )
    randomize_gates(model, seed=3)
    return model


def test_inference_decisions_match_the_model_and_its_flops():
    model = _model()
    images = random_images(n=24, size=16)
    decisions = gate_decisions(model, images, batch_size=10)
    block = decisions["stage1_block1"]
    assert block["run"].shape == (24,)
    # Three channel-gate decisions per 16 filters, groups of 4 -> 4.
    assert block["channels"].shape == (24, 4)
    # C-Net decides nothing inside a skipped block.
    assert not block["channels"][block["run"] == 0].any()
    runs = np.stack([d["run"] for d in decisions.values()], 1)
    assert 0 < runs.mean() < 1
    np.testing.assert_array_equal(
        decisions_flops(model, decisions), flops_per_image(model, images)
    )


def test_training_mode_leaves_the_model_unchanged():
    model = _model(noise_std=5.0)
    images = random_images(n=16, size=16) * 4.0 + 2.0
    before = [v.numpy().copy() for v in model.non_trainable_variables]
    first = gate_decisions(model, images, training=True, batch_size=8)
    second = gate_decisions(model, images, training=True, batch_size=8)
    after = [v.numpy() for v in model.non_trainable_variables]
    for old, new in zip(before, after):
        np.testing.assert_array_equal(old, new)
    # No exploration noise: two passes decide alike.
    for name in first:
        np.testing.assert_array_equal(first[name]["run"], second[name]["run"])


def test_agreement_is_perfect_when_statistics_match_and_drops_otherwise():
    model = _model()
    images = random_images(n=32, size=16)
    # Fresh batch norms: moving mean 0 and variance 1, while these
    # shifted images have other batch statistics.
    shifted = decision_agreement(model, images * 3.0 + 2.0, batch_size=32)
    assert shifted["agreement"] < 0.95
    assert 0 <= shifted["routing_agreement"] <= shifted["agreement"]
    from lcnet_tf.training import recalibrate_batch_norm

    recalibrate_batch_norm(model, images * 3.0 + 2.0, batch_size=32)
    report = decision_agreement(model, images * 3.0 + 2.0, batch_size=32)
    # One batch: its statistics are exactly the recalibrated ones.
    assert report["agreement"] == 1.0
    assert report["routing_agreement"] == 1.0
    assert report["flops_ratio_training"] == report["flops_ratio_inference"]


def test_errors():
    with pytest.raises(ValueError, match="no gates"):
        gate_decisions(cifar_resnet(8), random_images())
    with pytest.raises(ValueError, match="batch_size"):
        gate_decisions(_model(), random_images(size=16), batch_size=0)
    with pytest.raises(ValueError, match="shape"):
        gate_decisions(_model(), random_images(size=8))
