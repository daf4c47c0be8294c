import keras
import numpy as np
import pytest

from lcnet_tf.layers import GatedBottleneckBlock
from tests.fixtures import random_images


def test_shapes_and_static_flops():
    block = GatedBottleneckBlock(4, strides=2)
    y = block(random_images(2, 8, 16))
    assert y.shape == (2, 4, 4, 16)
    expected = 8 * 8 * 16 * 4 + 9 * 4 * 4 * 4 * 4 + 4 * 4 * 4 * 16
    assert block.body_flops(4) == expected
    assert block.base_flops() == expected + 16 * 16 * 4 * 4


def test_channel_skipping_never_reads_closed_channels():
    block = GatedBottleneckBlock(4, gating="lc", scale="none")
    x = random_images(2, 8, 16)
    block(x)
    bias = np.array([5.0, -5.0, 5.0, -5.0], "float32")
    block.channel_gate.keep_logits.set_weights(
        [np.zeros((16, 4), "float32"), bias]
    )
    y, flops, decisions = block(x)
    for conv in (block.conv1, block.conv2):
        kernel = conv.kernel.numpy()
        kernel[..., 1::2] = 50.0
        conv.kernel.assign(kernel)
    np.testing.assert_array_equal(block(x)[0], y)
    np.testing.assert_allclose(decisions, [[1.0, 0.5]] * 2)
    heads = block.block_gate.head_flops() + block.channel_gate.head_flops()
    expected = 64 * 16 * 2 + 9 * 64 * 2 * 2 + 64 * 2 * 16 + heads
    np.testing.assert_allclose(flops, expected)


def test_closed_block_is_identity_and_l_gate_is_refused_on_projection():
    block = GatedBottleneckBlock(4, gating="l", tau=1.0)
    x = np.abs(random_images(2, 8, 16))
    y, flops, _ = block(x)
    np.testing.assert_array_equal(y, x)
    with pytest.raises(ValueError, match="always runs"):
        GatedBottleneckBlock(8, gating="l").build((None, 8, 8, 16))


def test_config_round_trip():
    block = GatedBottleneckBlock(4, gating="c", channel_groups=2)
    x = random_images(2, 8, 16)
    expected = block(x)
    clone = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(block)
    )
    clone.set_weights(block.get_weights())
    for a, b in zip(expected, clone(x)):
        np.testing.assert_array_equal(a, b)
