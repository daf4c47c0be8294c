import keras
import numpy as np
import pytest
import tensorflow as tf

from lcnet_tf.layers import ChannelGate
from lcnet_tf.models import cifar_resnet
from lcnet_tf.training import gate_decisions
from tests.fixtures import random_images
from tests.fixtures import randomize_gates


def _gate(**kwargs):
    gate = ChannelGate(16, groups=4, selection="nested", **kwargs)
    x = random_images(n=32, size=8)
    gate(x)
    rng = np.random.default_rng(0)
    gate.keep_logits.kernel.assign(rng.normal(0, 2, (16, 4)).astype("f4"))
    gate.keep_logits.bias.assign(np.float32([2.0, 1.0, 0.0, -1.0]))
    return gate, x


def test_nested_keeps_a_prefix_of_the_groups():
    gate, x = _gate()
    keep, _, prob = (np.asarray(t) for t in gate(x))
    free = ChannelGate(16, groups=4)
    free(x)
    free.set_weights(gate.get_weights())
    free_keep, _, free_prob = (np.asarray(t) for t in free(x))
    groups = keep[:, ::4]
    # Prefix: once a group is off, every later one is off.
    assert (np.diff(groups, axis=1) <= 0).all()
    expected = np.cumprod(free_keep[:, ::4], axis=1)
    np.testing.assert_array_equal(groups, expected)
    np.testing.assert_allclose(
        prob[:, ::4], np.cumprod(free_prob[:, ::4], axis=1), rtol=1e-6
    )
    widths = groups.sum(axis=1)
    assert len(set(widths)) > 1  # images keep different widths


def test_gradients_reach_every_group_through_the_prefix():
    gate, x = _gate()
    with tf.GradientTape() as tape:
        keep, scale, _ = gate(x, training=True)
        loss = tf.reduce_sum(keep)
    grad = tape.gradient(loss, gate.keep_logits.bias).numpy()
    assert np.all(grad != 0)


def test_config_round_trip_and_bad_selection():
    gate, _ = _gate(scale="gate")
    restored = ChannelGate.from_config(gate.get_config())
    assert restored.selection == "nested" and restored.scale == "gate"
    with pytest.raises(ValueError, match="selection"):
        ChannelGate(8, selection="prefix")
    with pytest.raises(ValueError, match="divisor"):
        ChannelGate(10, groups=4, selection="nested")


def test_nested_model_flops_and_saving(tmp_path):
    model = cifar_resnet(
        14,
        gating="lc",
        input_shape=(8, 8, 3),
        channel_groups=4,
        channel_selection="nested",
    )
    randomize_gates(model, seed=6)
    images = random_images(n=32, size=8)
    decisions = gate_decisions(model, images)
    for part in decisions.values():
        assert (np.diff(part["channels"], axis=1) <= 0).all()
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        loaded.predict(images, verbose=0), model.predict(images, verbose=0)
    )
    block = loaded.get_layer("stage2_block2")
    assert block.channel_gate.selection == "nested"


def test_min_groups_always_run_and_the_rest_still_decide():
    gate, x = _gate(min_groups=1)
    # Group 0 closed for every image, group 1 open for some.
    gate.keep_logits.bias.assign(np.float32([-50.0, 1.0, 0.0, -1.0]))
    keep, scale, prob = (np.asarray(t) for t in gate(x))
    groups, probs = keep[:, ::4], prob[:, ::4]
    np.testing.assert_array_equal(groups[:, 0], 1.0)
    np.testing.assert_array_equal(probs[:, 0], 1.0)
    assert (np.diff(groups, axis=1) <= 0).all()
    assert len(set(groups.sum(axis=1))) > 1
    # Without it the same gate shuts every image's block.
    plain, _ = _gate()
    plain.set_weights(gate.get_weights())
    assert not np.asarray(plain(x)[0]).any()
    restored = ChannelGate.from_config(gate.get_config())
    assert restored.min_groups == 1


def test_min_groups_is_checked():
    with pytest.raises(ValueError, match="min_groups"):
        ChannelGate(16, groups=4, selection="nested", min_groups=5)
    with pytest.raises(ValueError, match="min_groups"):
        ChannelGate(16, groups=4, selection="nested", min_groups=-1)
    with pytest.raises(ValueError, match="no prefix"):
        ChannelGate(16, groups=4, min_groups=1)
    with pytest.raises(ValueError, match="channel_min_groups"):
        cifar_resnet(8, gating="l", channel_min_groups=1)
