import keras
import numpy as np
import pytest

from lcnet_tf.layers import FlopsBudget


def _budget(**kwargs):
    layer = FlopsBudget(
        full_flops=1000, fixed_flops=100, block_names=["a", "b"], **kwargs
    )
    logits = np.ones((2, 3), "float32")
    flops = [np.array([400.0, 0.0], "float32"), np.array([500.0, 100.0])]
    decisions = [
        np.array([[1.0, 1.0], [0.0, 1.0]], "float32"),
        np.array([[1.0, 0.5], [1.0, 0.25]], "float32"),
    ]
    return layer, [logits, flops, decisions]


def test_loss_only_in_training_and_metrics():
    layer, inputs = _budget(target=0.5, weight=2.0)
    out = layer(inputs)
    np.testing.assert_array_equal(out, inputs[0])
    assert not layer.losses
    layer(inputs, training=True)
    # ratios: (100 + 400 + 500) / 1000 = 1.0 and (100 + 0 + 100) / 1000.
    np.testing.assert_allclose(
        layer.losses[0], 2.0 * (0.6 - 0.5) ** 2, rtol=1e-5
    )
    np.testing.assert_allclose(layer.flops_ratio_metric.result(), 0.6)
    keeps = [float(m.result()) for m in layer.keep_metrics]
    np.testing.assert_allclose(keeps, [0.5, 0.375])
    assert [m.name for m in layer.keep_metrics] == ["keep_a", "keep_b"]


def test_target_and_weight_are_adjustable_and_validated():
    layer, inputs = _budget()
    layer(inputs)
    layer.target = 0.25
    layer.weight = 0.0
    layer(inputs, training=True)
    np.testing.assert_allclose(layer.losses[0], 0.0)
    assert layer.get_config()["target"] == 0.25
    for bad in (0.0, 1.2, float("nan")):
        with pytest.raises(ValueError, match="target"):
            layer.target = bad
    with pytest.raises(ValueError, match="weight"):
        layer.weight = -1.0
    with pytest.raises(ValueError, match="one `flops`"):
        layer([inputs[0], inputs[1][:1], inputs[2]])


def test_config_round_trip():
    layer, inputs = _budget(target=0.3, weight=5.0)
    layer(inputs)
    clone = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(layer)
    )
    assert clone.get_config() == layer.get_config()


def test_rate_loss_aims_at_the_flops_target():
    layer, inputs = _budget(
        target=0.5,
        weight=2.0,
        loss="rate",
        skipped_flops=200,
        gated_body_flops=800,
    )
    layer(inputs)
    # 0.5 * 1000 FLOPs = 200 + t * 800  ->  t = 0.375.
    np.testing.assert_allclose(layer.rate_target(), 0.375)
    layer(inputs, training=True)
    # Run rates: block a 0.5, block b 1.0.
    expected = 2.0 * ((0.5 - 0.375) ** 2 + (1.0 - 0.375) ** 2) / 2
    np.testing.assert_allclose(layer.losses[0], expected, rtol=1e-5)
    layer.target = 0.1
    np.testing.assert_allclose(layer.rate_target(), 0.0)
    clone = FlopsBudget.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_bad_loss_arguments():
    with pytest.raises(ValueError, match="`loss`"):
        _budget(loss="l2")
    with pytest.raises(ValueError, match="skipped_flops"):
        _budget(loss="rate")
