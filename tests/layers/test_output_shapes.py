"""`compute_output_shape` agrees with what `call` returns, layer by layer."""

import keras
import pytest

from lcnet_tf.layers import AigGate
from lcnet_tf.layers import BlockGate
from lcnet_tf.layers import ChannelGate
from lcnet_tf.layers import GatedBasicBlock
from lcnet_tf.layers import GatedBottleneckBlock
from lcnet_tf.layers import GateHead
from lcnet_tf.models import cifar_resnet
from tests.fixtures import random_images

LAYERS = {
    "gate_head": lambda: GateHead(units=4),
    "block_gate": lambda: BlockGate(),
    "aig_gate": lambda: AigGate(),
    "channel_gate": lambda: ChannelGate(16, groups=4),
    "nested_channel_gate": lambda: ChannelGate(
        16, groups=4, selection="nested"
    ),
    # Block gates need a block that keeps its shape; the others also
    # run with a stride and a channel change.
    **{
        f"basic_{gating}_{filters}_s{strides}": (
            lambda gating=gating, filters=filters, strides=strides: (
                GatedBasicBlock(filters, strides=strides, gating=gating)
            )
        )
        for gating, filters, strides in [
            (g, 16, 1) for g in ("none", "l", "c", "lc", "aig")
        ]
        + [(g, 8, 2) for g in ("none", "c")]
    },
    **{
        f"bottleneck_{gating}": (
            lambda gating=gating: GatedBottleneckBlock(4, gating=gating)
        )
        for gating in ("none", "lc")
    },
}


def _shapes(outputs):
    if isinstance(outputs, (tuple, list)):
        return tuple(_shapes(o) for o in outputs)
    return tuple(outputs.shape)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_compute_output_shape_matches_call(name):
    layer = LAYERS[name]()
    x = random_images(n=2, size=8)
    x = keras.ops.concatenate([x] * 6, axis=-1)[..., :16]
    declared = layer.compute_output_shape(tuple(x.shape))
    assert _shapes(layer(x)) == _shapes_of_declared(declared)


def _shapes_of_declared(declared):
    if (
        isinstance(declared, (tuple, list))
        and declared
        and isinstance(declared[0], (tuple, list))
    ):
        return tuple(_shapes_of_declared(d) for d in declared)
    return tuple(declared)


def test_flops_budget_output_shape_matches_call():
    model = cifar_resnet(8, gating="lc", input_shape=(8, 8, 3))
    budget = model.layers[-1]
    logits = keras.ops.zeros((2, 10))
    flops = [keras.ops.zeros((2,))] * len(budget.block_names)
    decisions = [keras.ops.ones((2, 2))] * len(budget.block_names)
    outputs = budget([logits, flops, decisions])
    assert tuple(outputs.shape) == tuple(
        budget.compute_output_shape([(2, 10), None, None])
    )
