import keras
import numpy as np
import pytest
import tensorflow as tf

from lcnet_tf.layers import BlockGate
from lcnet_tf.layers import ChannelGate
from lcnet_tf.layers import GateRegularizer
from lcnet_tf.models import cifar_resnet
from tests.fixtures import random_images


def test_bounds_anneal_from_open_to_final():
    regularizer = GateRegularizer(low=0.2, high=0.7, anneal=0.5)
    np.testing.assert_allclose(regularizer.bounds_at(0.0), (0.0, 1.0))
    np.testing.assert_allclose(regularizer.bounds_at(0.25), (0.1, 0.85))
    np.testing.assert_allclose(regularizer.bounds_at(0.5), (0.2, 0.7))
    np.testing.assert_allclose(regularizer.bounds_at(1.0), (0.2, 0.7))


def test_bounds_term_penalises_only_rates_outside_the_bounds():
    regularizer = GateRegularizer(low=0.2, high=0.8, bounds_weight=2.0)
    # Unit rates: 1.0 (0.2 above), 0.5 (inside), 0.0 (0.2 below).
    gate = tf.constant([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    loss = regularizer(gate, tf.fill((2, 3), 0.5), 1.0)
    np.testing.assert_allclose(loss, 2.0 * (0.04 + 0.0 + 0.04) / 3, 1e-6)
    # At progress 0 the bounds are [0, 1]: nothing to penalise.
    np.testing.assert_allclose(regularizer(gate, gate, 0.0), 0.0)


def test_prior_cdf_is_the_beta_cdf():
    regularizer = GateRegularizer(alpha=2.0, beta=1.0)
    # Beta(2, 1) has CDF x^2; the table is linear between 1,025 points.
    x = np.linspace(0.0, 1.0, 37).astype("float32")
    np.testing.assert_allclose(regularizer.prior_cdf(x), x**2, atol=1e-6)
    # Beta(0.6, 0.4): mean 0.6, CDF checked against a fine Riemann sum.
    regularizer = GateRegularizer(alpha=0.6, beta=0.4)
    grid = (np.arange(2_000_000) + 0.5) / 2_000_000
    density = grid ** (-0.4) * (1 - grid) ** (-0.6)
    cdf = np.cumsum(density) / density.sum()
    for point in (0.1, 0.5, 0.9):
        expected = cdf[int(point * len(grid)) - 1]
        got = float(regularizer.prior_cdf(np.float32([point]))[0])
        assert abs(got - expected) < 2e-3, (point, got, expected)


def test_batch_shaping_is_cramer_von_mises_to_the_prior():
    regularizer = GateRegularizer(alpha=1.0, beta=1.0, shaping_weight=1.0)
    # Beta(1, 1) is uniform: its CDF is the identity, so a batch placed
    # exactly at the empirical quantiles has zero distance.
    n = 8
    quantiles = (2 * np.arange(n) + 1) / (2 * n)
    prob = tf.constant(np.random.default_rng(0).permutation(quantiles)[:, None])
    np.testing.assert_allclose(regularizer(prob, prob, 0.0), 0.0, atol=1e-6)
    # All probabilities at 1 (an always-on gate): distance is the mean of
    # (1 - q)^2; the weight fades with progress.
    ones = tf.ones((n, 1), tf.float64)
    expected = np.mean((1 - quantiles) ** 2)
    np.testing.assert_allclose(regularizer(ones, ones, 0.0), expected, 1e-5)
    np.testing.assert_allclose(
        regularizer(ones, ones, 0.75), 0.25 * expected, 1e-5
    )


def test_batch_shaping_gradient_spreads_saturated_gates():
    regularizer = GateRegularizer(shaping_weight=1.0)
    logits = tf.Variable(np.full((16, 1), 4.0, np.float32))
    with tf.GradientTape() as tape:
        prob = tf.sigmoid(logits)
        loss = regularizer(prob, prob, 0.0)
    grad = tape.gradient(loss, logits).numpy()[:, 0]
    # Beta(0.6, 0.4) puts mass near 0 and near 1: of identical,
    # saturated probabilities, most are pushed down (positive gradient)
    # and the highest-ranked up, so the batch spreads out.
    assert (grad > 0).sum() > len(grad) // 2
    assert grad.min() < 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(low=0.6, high=0.4), "low < high"),
        (dict(low=-0.1), "low < high"),
        (dict(bounds_weight=-1), "bounds_weight"),
        (dict(shaping_weight=float("nan")), "shaping_weight"),
        (dict(alpha=0), "alpha"),
        (dict(beta="x"), "beta"),
        (dict(anneal=0), "anneal"),
        (dict(noise_anneal=1.5), "noise_anneal"),
    ],
)
def test_bad_arguments_are_rejected_by_name(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GateRegularizer(**kwargs)


def test_gate_adds_its_loss_only_in_training():
    regularizer = GateRegularizer(low=0.3, high=0.6, bounds_weight=1.0)
    gate = ChannelGate(8, groups=2, regularizer=regularizer)
    x = random_images(size=8)
    gate(x, training=False)
    assert not gate.losses
    gate(x, training=True)
    # A fresh gate keeps everything: rate 1 exceeds the 0.6 bound.
    np.testing.assert_allclose(gate.losses[0], 0.4**2, 1e-6)
    assert float(gate.progress.numpy()) == 1.0


def test_gate_rejects_a_non_regularizer():
    with pytest.raises(ValueError, match="GateRegularizer"):
        BlockGate(regularizer="bounds")


def test_model_with_regularizer_round_trips(tmp_path):
    regularizer = GateRegularizer(bounds_weight=2.0, shaping_weight=1.0)
    model = cifar_resnet(
        8, gating="lc", input_shape=(16, 16, 3), gate_regularizer=regularizer
    )
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    gate = loaded.get_layer("stage1_block1").block_gate
    assert gate.regularizer.get_config() == regularizer.get_config()
    x = random_images(size=16)
    np.testing.assert_allclose(model.predict(x), loaded.predict(x), 1e-6)


def test_aig_refuses_a_regularizer():
    with pytest.raises(ValueError, match="aig"):
        cifar_resnet(
            8, gating="aig", gate_regularizer=GateRegularizer(bounds_weight=1)
        )


def test_noise_fades_linearly_to_zero():
    regularizer = GateRegularizer(noise_anneal=0.8)
    for progress, factor in ((0.0, 1.0), (0.4, 0.5), (0.8, 0.0), (1.0, 0.0)):
        np.testing.assert_allclose(
            regularizer.noise_factor(tf.constant(progress)), factor, 1e-6
        )
    constant = GateRegularizer()
    np.testing.assert_allclose(constant.noise_factor(tf.constant(0.9)), 1.0)


def test_gate_noise_follows_the_schedule():
    regularizer = GateRegularizer(noise_anneal=0.5)
    gate = ChannelGate(
        16, groups=16, noise_std=3.0, seed=1, regularizer=regularizer
    )
    x = random_images(n=32, size=8)
    deterministic = np.asarray(gate(x, training=False)[2])
    gate.progress.assign(0.0)
    noisy = np.asarray(gate(x, training=True)[2])
    assert np.abs(noisy - deterministic).max() > 0.1
    gate.progress.assign(0.5)
    faded = np.asarray(gate(x, training=True)[2])
    np.testing.assert_allclose(faded, deterministic, atol=1e-6)
    assert gate.regularizer.get_config()["noise_anneal"] == 0.5


def test_channel_gates_can_be_left_out_of_the_loss_terms():
    x = random_images(size=8)
    for channel_gates, expected in ((True, 1), (False, 0)):
        regularizer = GateRegularizer(
            low=0.3, high=0.6, bounds_weight=1.0, channel_gates=channel_gates
        )
        channel = ChannelGate(8, groups=2, regularizer=regularizer)
        channel(x, training=True)
        assert len(channel.losses) == expected
        block = BlockGate(regularizer=regularizer)
        block(x, training=True)
        assert len(block.losses) == 1
    restored = GateRegularizer.from_config(regularizer.get_config())
    assert restored.channel_gates is False
