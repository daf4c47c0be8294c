import keras
import numpy as np
import pytest

from lcnet_tf import flops
from lcnet_tf.export import fold_model
from lcnet_tf.export.folding import fold_conv_bn
from tests.export.conftest import make_model
from tests.fixtures import random_images


def test_fold_conv_bn_matches_keras_inference():
    conv = keras.layers.Conv2D(6, 3, padding="same", use_bias=False)
    bn = keras.layers.BatchNormalization()
    x = random_images(2, size=8)
    y = bn(conv(x), training=True)
    bn.moving_mean.assign(np.linspace(-1, 1, 6).astype("float32"))
    bn.moving_variance.assign(np.linspace(0.5, 2, 6).astype("float32"))
    expected = keras.ops.convert_to_numpy(bn(conv(x), training=False))
    folded = fold_conv_bn(conv, bn)
    import tensorflow as tf

    got = tf.nn.conv2d(x, folded.kernel, 1, "SAME") + folded.bias
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-4, atol=1e-5)
    assert y.shape == expected.shape


@pytest.mark.parametrize("gating", ["none", "l", "c", "lc", "aig"])
def test_fold_model_structure_and_flops(gating):
    model = make_model(gating)
    network = fold_model(model)
    assert len(network.blocks) == 3
    assert [kind for kind, _ in network.stem] == ["conv", "relu"]
    assert network.static_flops == flops.count_flops(model, gates=False)
    gated = flops.gated_blocks(model)
    assert len(network.gated_blocks) == len(gated)
    assert network.fixed_flops + sum(b.open_flops() for b in gated) == (
        flops.count_flops(model)
    )


def test_group_gates_expand_to_channels():
    model = make_model("c", channel_groups=4)
    block = fold_model(model).blocks[0]
    kernel = block.channel_gate.keep_kernel
    assert kernel.shape[-1] == 16
    np.testing.assert_array_equal(kernel[:, 0], kernel[:, 3])


def test_unknown_layer_is_named():
    inputs = keras.Input((32, 32, 3))
    base = make_model("l")
    x = keras.layers.Dropout(0.1, name="extra_dropout")(inputs)
    outputs = base.layers[1](x)
    model = keras.Model(inputs, outputs)
    with pytest.raises(ValueError, match="extra_dropout"):
        fold_model(model)


def test_not_a_resnet():
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    with pytest.raises(ValueError, match="exporter"):
        fold_model(model)
