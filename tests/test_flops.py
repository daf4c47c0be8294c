import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import (
    convert_variables_to_constants_v2,
)

from lcnet_tf import flops
from lcnet_tf.models import cifar_resnet
from lcnet_tf.models import imagenet_resnet
from lcnet_tf.models import set_threshold
from tests.fixtures import random_images

# DESIGN.md's reference figures. ResNet-34's "3.6e9" is the usual
# truncation of 3.66e9 (He et al. round down; torchvision and fvcore count
# 3.66e9), so the test uses the unrounded figure.
CIFAR_REFERENCE = {20: 4.06e7, 32: 6.9e7, 56: 1.25e8, 110: 2.53e8}
IMAGENET_REFERENCE = {18: 1.82e9, 34: 3.66e9, 50: 4.1e9}


def profiler_macs(model):
    """Independent count: TF's profiler on the frozen inference graph."""
    model = flops.inference_model(model)
    shape = (1,) + tuple(model.inputs[0].shape[1:])
    function = tf.function(lambda x: model(x, training=False))
    frozen = convert_variables_to_constants_v2(
        function.get_concrete_function(tf.TensorSpec(shape, tf.float32))
    )
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["account_type_regexes"] = ["Conv2D", "MatMul"]
    options["output"] = "none"
    info = tf.compat.v1.profiler.profile(frozen.graph, options=options)
    # The profiler counts a multiply and an add per MAC.
    return info.total_float_ops // 2


@pytest.mark.parametrize("depth", sorted(CIFAR_REFERENCE))
def test_cifar_reference_figures(depth):
    count = flops.count_flops(cifar_resnet(depth))
    assert abs(count / CIFAR_REFERENCE[depth] - 1) < 0.01, count


@pytest.mark.slow
@pytest.mark.parametrize("depth", sorted(IMAGENET_REFERENCE))
def test_imagenet_reference_figures(depth):
    count = flops.count_flops(imagenet_resnet(depth))
    assert abs(count / IMAGENET_REFERENCE[depth] - 1) < 0.01, count


@pytest.mark.parametrize(
    "model",
    [
        lambda: cifar_resnet(20),
        lambda: cifar_resnet(20, gating="lc"),
        lambda: cifar_resnet(8, gating="c", channel_groups=4, scale="none"),
        lambda: imagenet_resnet(
            50, gating="lc", input_shape=(64, 64, 3), num_classes=10
        ),
    ],
)
def test_static_count_matches_tf_profiler(model):
    model = model()
    assert flops.count_flops(model, gates=True) == profiler_macs(model)


def test_gate_overhead_is_small():
    model = cifar_resnet(20, gating="lc")
    static = flops.count_flops(model, gates=False)
    assert static == flops.count_flops(cifar_resnet(20))
    assert 0 < flops.count_flops(model) / static - 1 < 0.02


def test_closed_gates_and_static_models():
    static = cifar_resnet(8)
    x = random_images(3)
    np.testing.assert_array_equal(
        flops.flops_per_image(static, x), flops.count_flops(static)
    )
    model = cifar_resnet(8, gating="l")
    set_threshold(model, 1.0)
    closed = flops.flops_per_image(model, x)
    skipped = sum(b.body_flops(b.filters) for b in flops.gated_blocks(model))
    np.testing.assert_array_equal(closed, flops.count_flops(model) - skipped)


def test_extra_outputs_come_from_the_same_pass_in_their_structure():
    model = cifar_resnet(8, gating="lc")
    block = flops.gated_blocks(model)[0]
    x = random_images(3)
    extra = {"first": {"input": block.input, "flops": block.output[1]}}
    out = next(flops.batches_with_flops(model, [x], extra_outputs=extra))
    inputs = keras.Model(model.inputs, block.input).predict_on_batch(x)
    np.testing.assert_allclose(out["extra"]["first"]["input"], inputs)
    # The block's own FLOPs output, in the pass that counted the total.
    assert out["extra"]["first"]["flops"].shape == (3,)
    assert out["extra"]["first"]["flops"].sum() <= out["flops"].sum()


def test_bad_inputs():
    model = cifar_resnet(8)
    with pytest.raises(ValueError, match="NaN"):
        x = random_images(2)
        x[1, 0, 0, 0] = np.nan
        flops.flops_per_image(model, x)
    with pytest.raises(ValueError, match="floating point"):
        flops.flops_per_image(model, np.zeros((1, 32, 32, 3), "uint8"))
    with pytest.raises(ValueError, match="batch axis"):
        flops.flops_per_image(model, random_images(1)[0])
    with pytest.raises(ValueError, match="per-image shape"):
        flops.flops_per_image(model, random_images(1, size=28))
    # Extra outputs are gate outputs: a static model has none to give.
    with pytest.raises(ValueError, match="needs a gated model"):
        next(
            flops.batches_with_flops(
                model, [random_images(1)], extra_outputs={"x": model.output}
            )
        )


def test_unknown_weighted_layer_is_reported():
    inputs = keras.Input((8,))
    outputs = keras.layers.Embedding(10, 4)(inputs)
    with pytest.raises(ValueError, match="Cannot count FLOPs"):
        flops.count_flops(keras.Model(inputs, outputs))
