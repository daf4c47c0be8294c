import numpy as np

from lcnet_tf.export.android_fixture import nested_fixture_model
from lcnet_tf.flops import gated_blocks
from lcnet_tf.models.pretrained import pretrained_dir

STATIC = f"{pretrained_dir()}/resnet20_static_cifar10.keras"


def _gate_weights(model):
    return [
        np.asarray(weight)
        for block in gated_blocks(model)
        for gate in block.gates
        for weight in gate.weights
    ]


def test_nested_fixture_model_is_rebuilt_bit_for_bit_from_its_seed():
    first = _gate_weights(nested_fixture_model(STATIC, seed=0))
    again = _gate_weights(nested_fixture_model(STATIC, seed=0))
    other = _gate_weights(nested_fixture_model(STATIC, seed=1))
    assert len(first) == len(again) > 0
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(first, other))
