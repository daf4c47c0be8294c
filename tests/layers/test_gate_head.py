import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from lcnet_tf.layers import AigGate
from lcnet_tf.layers import BlockGate
from lcnet_tf.layers import ChannelGate
from lcnet_tf.layers import GateHead
from tests.fixtures import random_images


def test_fresh_gate_is_open_with_unit_learned_scale():
    gate, scale, prob = GateHead(units=5)(random_images())
    assert gate.shape == (4, 5)
    np.testing.assert_array_equal(gate, 1.0)
    np.testing.assert_array_equal(scale, 1.0)
    assert np.all(np.asarray(prob) > 0.9)


@pytest.mark.parametrize("mode", ["gate", "none"])
def test_scale_modes(mode):
    head = GateHead(units=3, scale=mode)
    _, scale, prob = head(random_images())
    expected = prob if mode == "gate" else np.ones_like(prob)
    np.testing.assert_allclose(scale, expected)
    assert not hasattr(head, "scale_logits")


def test_decisions_are_hard_and_follow_threshold():
    head = GateHead(units=64, init_keep_logit=0.0)
    x = random_images()
    head(x)
    kernel = np.random.default_rng(0).normal(size=(16, 64))
    head.keep_logits.kernel.assign(kernel)
    gate, _, prob = head(x)
    assert 0.2 < np.mean(np.asarray(gate)) < 0.8
    prob = np.asarray(prob)
    assert set(np.unique(np.asarray(gate))) <= {0.0, 1.0}
    np.testing.assert_array_equal(gate, (prob >= 0.5).astype("float32"))
    head.tau = 0.0
    np.testing.assert_array_equal(head(x)[0], 1.0)
    head.tau = 1.0
    np.testing.assert_array_equal(head(x)[0], 0.0)
    assert head.get_config()["tau"] == 1.0


def test_straight_through_gradient_reaches_gate_weights():
    head = GateHead(units=4)
    x = tf.constant(random_images())
    with tf.GradientTape() as tape:
        gate, scale, _ = head(x, training=True)
        loss = tf.reduce_sum(gate * scale * tf.range(4.0))
    grads = tape.gradient(loss, head.trainable_weights)
    names = [w.path for w in head.trainable_weights]
    assert len(grads) == 6, names
    for name, grad in zip(names, grads):
        if "scale_logits/kernel" in name or "keep_logits/kernel" in name:
            assert np.abs(np.asarray(grad)).sum() > 0, name


def test_noise_only_in_training():
    head = GateHead(units=256, noise_std=3.0, init_keep_logit=3.0, seed=1)
    x = random_images()
    clean = np.asarray(head(x)[0])
    np.testing.assert_array_equal(head(x, training=False)[0], clean)
    noisy = np.asarray(head(x, training=True)[0])
    assert np.mean(noisy != clean) > 0.05


@pytest.mark.parametrize("tau", [-0.1, 1.5, float("nan"), "high", None])
def test_bad_threshold_is_rejected(tau):
    with pytest.raises(ValueError, match="tau"):
        GateHead(units=1, tau=tau)
    head = BlockGate()
    with pytest.raises(ValueError, match="tau"):
        head.tau = tau


def test_bad_arguments():
    with pytest.raises(ValueError, match="scale"):
        GateHead(units=2, scale="sqrt")
    with pytest.raises(ValueError, match="units"):
        GateHead(units=0)
    with pytest.raises(ValueError, match="noise_std"):
        GateHead(units=1, noise_std=-1)
    with pytest.raises(ValueError, match="4D"):
        GateHead(units=1)(np.zeros((2, 8, 3), "float32"))


def test_channel_gate_groups():
    gate = ChannelGate(8, groups=4)
    values = gate(random_images())
    assert [tuple(v.shape) for v in values] == [(4, 8)] * 3
    prob = np.asarray(values[2])
    np.testing.assert_array_equal(prob[:, :4], prob[:, :1].repeat(4, 1))
    assert gate.units == 2
    with pytest.raises(ValueError, match="divisor"):
        ChannelGate(8, groups=3)


@pytest.mark.parametrize(
    "layer",
    [
        lambda: BlockGate(hidden_units=8, scale="gate", tau=0.3),
        lambda: ChannelGate(8, groups=2, noise_std=0.5, seed=3),
        lambda: GateHead(units=3, scale="none"),
    ],
)
def test_config_round_trip(layer):
    layer = layer()
    x = random_images()
    expected = layer(x)
    config = keras.saving.serialize_keras_object(layer)
    clone = keras.saving.deserialize_keras_object(config)
    assert clone.built  # Keras rebuilds it from its build config.
    clone.set_weights(layer.get_weights())
    assert clone.get_config() == layer.get_config()
    for a, b in zip(expected, clone(x)):
        np.testing.assert_array_equal(a, b)


def test_head_flops():
    head = GateHead(units=4, hidden_units=8)
    head.build((None, 8, 8, 16))
    assert head.head_flops() == 16 * 8 + 8 * 8
    plain = GateHead(units=4, hidden_units=8, scale="none")
    plain.build((None, 8, 8, 16))
    assert plain.head_flops() == 16 * 8 + 8 * 4


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: BlockGate(units=3), "units=3"),
        (lambda: ChannelGate(8, units=2), "units=2"),
        (lambda: AigGate(noise_std=1.0), "noise_std=1.0"),
        (lambda: AigGate(scale="learned"), "scale='learned'"),
    ],
)
def test_subclasses_refuse_arguments_they_fix(make, name):
    with pytest.raises(ValueError, match=re.escape(name)):
        make()


def test_block_threshold_has_one_home():
    from lcnet_tf.models import cifar_resnet
    from lcnet_tf.models import set_threshold

    model = cifar_resnet(8, gating="lc", input_shape=(8, 8, 3))
    block = model.get_layer("stage1_block1")
    assert block.tau == 0.5
    set_threshold(model, 0.7)
    assert block.tau == pytest.approx(0.7)
    assert block.get_config()["tau"] == pytest.approx(0.7)
