import keras
import numpy as np
import pytest
import tensorflow as tf

from lcnet_tf.layers import GatedBasicBlock
from tests.fixtures import random_images


def _block(gating, **kwargs):
    block = GatedBasicBlock(8, gating=gating, **kwargs)
    block.build((None, 16, 16, 8))
    return block


def _copy_body(source, target):
    for a, b in zip(source.body_layers(), target.body_layers()):
        b.set_weights(a.get_weights())


def _bn_warm(block):
    # Non-trivial folded BN so a wrong mask would show up in outputs.
    for layer in block.body_layers():
        if isinstance(layer, keras.layers.BatchNormalization):
            rng = np.random.default_rng(len(layer.name))
            layer.set_weights(
                [rng.uniform(0.5, 1.5, w.shape) for w in layer.get_weights()]
            )


@pytest.mark.parametrize("gating", ["l", "c", "lc"])
def test_open_gates_equal_static_block(gating):
    static, gated = _block("none"), _block(gating)
    _bn_warm(static)
    _copy_body(static, gated)
    x = random_images(3, 16, 8)
    y, flops, decisions = gated(x)
    np.testing.assert_array_equal(y, static(x))
    np.testing.assert_array_equal(decisions, 1.0)
    np.testing.assert_allclose(flops, gated.open_flops())


@pytest.mark.parametrize("gating", ["l", "lc"])
def test_closed_block_gate_outputs_shortcut(gating):
    block = _block(gating)
    _bn_warm(block)
    block.block_gate.tau = 1.0
    x = random_images(3, 16, 8)
    y, flops, decisions = block(x)
    np.testing.assert_array_equal(y, np.maximum(x, 0.0))
    np.testing.assert_array_equal(np.asarray(decisions)[:, 0], 0.0)
    # Only the L-Net head ran: C-Net runs inside kept blocks only.
    np.testing.assert_allclose(flops, block.block_gate.head_flops())


def test_channel_mask_skips_exactly_the_closed_channels():
    block = _block("c", scale="none")
    _bn_warm(block)
    gate = block.channel_gate
    closed = np.array([1, 4, 5])
    bias = np.full((8,), 5.0, "float32")
    bias[closed] = -5.0
    gate.keep_logits.set_weights([np.zeros((16, 8), "float32"), bias])
    x = random_images(2, 16, 8)
    y, flops, decisions = block(x)

    # Same as a static block that never reads the closed channels...
    reference = _block("none")
    _copy_body(block, reference)
    kernel = reference.conv2.kernel.numpy()
    kernel[:, :, closed, :] = 0.0
    reference.conv2.kernel.assign(kernel)
    np.testing.assert_allclose(y, reference(x), atol=1e-5)
    # ...and whose closed filters in conv1 do not matter at all.
    kernel = block.conv1.kernel.numpy()
    kernel[..., closed] = 123.0
    block.conv1.kernel.assign(kernel)
    np.testing.assert_array_equal(block(x)[0], y)

    kept = 8 - len(closed)
    np.testing.assert_allclose(decisions, [[1.0, kept / 8]] * 2)
    expected = 9 * 16 * 16 * (8 * kept + kept * 8) + gate.head_flops()
    np.testing.assert_allclose(flops, expected)
    assert block.flops_for(1, kept) == expected


def test_gradients_reach_both_gates():
    block = _block("lc")
    x = tf.constant(random_images(4, 16, 8))
    with tf.GradientTape() as tape:
        y, flops, _ = block(x, training=True)
        loss = tf.reduce_mean(y**2) + 1e-9 * tf.reduce_mean(flops)
    grads = tape.gradient(loss, block.trainable_weights)
    by_name = {w.path: g for w, g in zip(block.trainable_weights, grads)}
    for name in ("block_gate/keep_logits/kernel", "channel_gate/keep_logits"):
        grad = [g for path, g in by_name.items() if name in path][0]
        assert np.abs(np.asarray(grad)).sum() > 0, name


def test_projection_block_always_runs():
    with pytest.raises(ValueError, match="always runs"):
        GatedBasicBlock(16, strides=2, gating="l").build((None, 16, 16, 8))
    block = GatedBasicBlock(16, strides=2, gating="c")
    y, flops, _ = block(random_images(2, 16, 8))
    assert y.shape == (2, 8, 8, 16)
    assert block.shortcut_flops == 8 * 16 * 8 * 8
    np.testing.assert_allclose(flops, block.open_flops())


def test_skipped_projection_block_runs_its_shortcut_alone():
    block = GatedBasicBlock(16, strides=2, gating="lc", skip_projection=True)
    x = random_images(3, 16, 8)
    block.build(x.shape)
    assert not block.always_runs
    block.block_gate.tau = 1.0  # only p >= 1 keeps the body
    y, flops, decisions = block(x)
    shortcut = block.shortcut_bn(block.shortcut_conv(x), training=False)
    np.testing.assert_allclose(y, np.maximum(shortcut, 0.0), atol=1e-6)
    np.testing.assert_array_equal(decisions[:, 0], 0.0)
    # The shortcut and the block gate's head run; the body and its
    # channel gate do not.
    expected = block.shortcut_flops + block.block_gate.head_flops()
    np.testing.assert_allclose(flops, expected)
    block.block_gate.tau = 0.0
    _, flops, _ = block(x)
    np.testing.assert_allclose(flops, block.open_flops())
    clone = GatedBasicBlock.from_config(block.get_config())
    assert clone.skip_projection


def test_bad_arguments():
    with pytest.raises(ValueError, match="gating"):
        GatedBasicBlock(8, gating="x")
    with pytest.raises(ValueError, match="strides"):
        GatedBasicBlock(8, strides=3)
    with pytest.raises(ValueError, match="tau"):
        GatedBasicBlock(8, gating="l", tau=2)
    with pytest.raises(ValueError, match="fixed spatial size"):
        GatedBasicBlock(8).build((None, None, None, 8))


def test_config_round_trip_and_static_flops():
    block = _block("lc", channel_groups=2, scale="gate", tau=0.4)
    x = random_images(2, 16, 8)
    clone = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(block)
    )
    clone.set_weights(block.get_weights())
    assert clone.get_config() == block.get_config()
    for a, b in zip(block(x), clone(x)):
        np.testing.assert_array_equal(a, b)
    assert block.base_flops() == 2 * 9 * 16 * 16 * 8 * 8
