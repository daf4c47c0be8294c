"""Per-image FLOPs against an independent count.

For sampled images, the decisions a gated model takes are turned into the
plain network they describe (skipped blocks left out, convolutions only
as wide as the kept channels, gate heads as the Dense layers they are)
and that network is counted by TensorFlow's profiler. Nothing here uses
the library's FLOPs formulas.
"""

import keras
import numpy as np
import pytest

from lcnet_tf import flops
from lcnet_tf.layers import GatedBottleneckBlock
from lcnet_tf.layers import GatedResidualBlock
from lcnet_tf.models import cifar_resnet
from lcnet_tf.models import set_threshold
from lcnet_tf.training import gate_decisions
from tests.fixtures import random_images
from tests.fixtures import randomize_gates
from tests.fixtures import tiny_bottleneck_resnet
from tests.test_flops import profiler_macs


def _head(x, gate):
    pooled = keras.layers.GlobalAveragePooling2D()(x)
    hidden = keras.layers.Dense(gate.hidden.units)(pooled)
    outputs = gate.keep_logits.units
    if gate.scale == "learned":
        outputs *= 2
    return keras.layers.Dense(outputs)(hidden)


def _conv(x, filters, size, strides=1):
    return keras.layers.Conv2D(
        filters, size, strides=strides, padding="same", use_bias=False
    )(x)


def _block(x, block, run, kept, side):
    if block.block_gate is not None:
        side.append(_head(x, block.block_gate))
    shortcut = x
    if block.projection:
        shortcut = _conv(x, block.out_channels, 1, block.strides)
    if not run:
        return shortcut
    if block.channel_gate is not None:
        side.append(_head(x, block.channel_gate))
    if kept == 0:
        return shortcut
    if isinstance(block, GatedBottleneckBlock):
        y = _conv(x, kept, 1)
        y = _conv(y, kept, 3, block.strides)
        y = _conv(y, block.out_channels, 1)
    else:
        y = _conv(x, kept, 3, block.strides)
        y = _conv(y, block.filters, 3)
    return keras.layers.Add()([shortcut, y])


def pruned_network(model, decisions, index):
    """The plain network that image `index`'s decisions run."""
    inputs = keras.Input(model.inputs[0].shape[1:])
    x = inputs
    side = []
    for layer in model.layers[1:]:
        if isinstance(layer, GatedResidualBlock):
            part = decisions.get(layer.name)
            run, kept = 1, layer.filters
            if part is not None:
                run = int(part["run"][index])
                if part["channels"].shape[1]:
                    groups = layer.channel_gate.groups
                    kept = int(part["channels"][index].sum()) * groups
            x = _block(x, layer, run, kept, side)
        elif isinstance(layer, keras.layers.Conv2D):
            x = _conv(x, layer.filters, layer.kernel_size, layer.strides)
        elif isinstance(layer, keras.layers.Dense):
            x = keras.layers.GlobalAveragePooling2D()(x)
            x = keras.layers.Dense(layer.units)(x)
    return keras.Model(inputs, [x, *side])


@pytest.mark.parametrize(
    "make",
    [
        lambda: cifar_resnet(14, gating="lc", channel_groups=4),
        lambda: cifar_resnet(14, gating="l"),
        lambda: cifar_resnet(8, gating="c", scale="none"),
        lambda: tiny_bottleneck_resnet("lc"),
    ],
)
def test_per_image_flops_equal_the_pruned_network(make):
    model = make()
    randomize_gates(model, seed=5, scale=1.5)
    images = random_images(n=24)
    per_image = flops.flops_per_image(model, images)
    decisions = gate_decisions(model, images)
    # Images with different costs, and both open and closed blocks.
    picked = np.unique(per_image, return_index=True)[1][:4]
    assert len(picked) >= 2
    for index in picked:
        pruned = pruned_network(model, decisions, index)
        assert profiler_macs(pruned) == per_image[index], index


def test_every_gate_closed_is_the_network_without_gated_bodies():
    model = cifar_resnet(14, gating="lc")
    set_threshold(model, 1.0)
    images = random_images(n=2)
    decisions = gate_decisions(model, images)
    l_gated = [b.name for b in flops.gated_blocks(model) if b.block_gate]
    assert l_gated and not any(decisions[n]["run"].any() for n in l_gated)
    pruned = pruned_network(model, decisions, 0)
    assert profiler_macs(pruned) == flops.flops_per_image(model, images)[0]
