import keras
import numpy as np
import pytest
import tensorflow as tf

from lcnet_tf.layers import AigGate
from tests.fixtures import random_images


def _varied_gate(**kwargs):
    gate = AigGate(init_keep_logit=0.0, seed=0, **kwargs)
    x = random_images(64, seed=1)
    gate(x)
    rng = np.random.default_rng(0)
    gate.keep_logits.kernel.assign(rng.normal(size=(16, 1)) * 2.0)
    return gate, x


def test_inference_is_threshold_on_prob_with_unit_scale():
    gate, x = _varied_gate()
    decision, scale, prob = gate(x)
    assert decision.shape == (64, 1)
    prob = np.asarray(prob)
    assert 0.1 < np.mean(np.asarray(decision)) < 0.9
    np.testing.assert_array_equal(decision, (prob >= 0.5).astype("float32"))
    np.testing.assert_array_equal(scale, 1.0)
    gate.tau = 1.0
    np.testing.assert_array_equal(gate(x)[0], 0.0)


def test_training_samples_gumbel_decisions():
    gate, x = _varied_gate()
    prob = np.asarray(gate(x)[2])
    samples = np.stack(
        [np.asarray(gate(x, training=True)[0]) for _ in range(200)]
    )
    assert set(np.unique(samples)) <= {0.0, 1.0}
    # A straight-through Gumbel-softmax sample runs the block with
    # probability sigmoid(z): the empirical rate follows `prob`.
    np.testing.assert_allclose(samples.mean(0), prob, atol=0.12)
    assert 0.0 < samples.std(0).mean()


def test_straight_through_gradient_and_temperature():
    grads = []
    for temperature in (1.0, 0.1):
        gate, x = _varied_gate(temperature=temperature)
        with tf.GradientTape() as tape:
            decision, _, _ = gate(tf.constant(x), training=True)
            loss = tf.reduce_sum(decision)
        grad = tape.gradient(loss, gate.keep_logits.kernel)
        grads.append(np.abs(np.asarray(grad)).sum())
    assert grads[0] > 0 and grads[1] > 0
    with pytest.raises(ValueError, match="temperature"):
        AigGate(temperature=0.0)


def test_config_round_trip():
    gate, x = _varied_gate(temperature=0.5, tau=0.4)
    clone = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(gate)
    )
    clone(x)
    clone.set_weights(gate.get_weights())
    assert clone.get_config() == gate.get_config()
    assert clone.get_config()["temperature"] == 0.5
    np.testing.assert_array_equal(clone(x)[0], gate(x)[0])
