import numpy as np
import pytest
import tensorflow as tf

from lcnet_tf.export import fold_model
from lcnet_tf.export.gate_heads import block_gates
from lcnet_tf.export.gate_heads import gate_values
from tests.export.conftest import make_model
from tests.fixtures import random_images


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(scale="learned"),
        dict(scale="gate"),
        dict(scale="none"),
        dict(channel_selection="nested", channel_groups=4),
    ],
    ids=["learned", "gate", "none", "nested"],
)
def test_fused_heads_equal_the_two_heads_apart(kwargs):
    network = fold_model(make_model("lc", **kwargs))
    x = tf.constant(random_images(6, seed=9)[..., :1].repeat(16, axis=-1))
    block = network.blocks[0]
    assert block.block_gate is not None and block.channel_gate is not None
    (run, b_scale), (keep, c_scale) = block_gates(block, x)
    want_run, want_b = gate_values(block.block_gate, x)
    want_keep, want_c = gate_values(block.channel_gate, x)
    np.testing.assert_array_equal(run, want_run)
    np.testing.assert_array_equal(keep, want_keep)
    # Both heads vary over these images, so the check can fail.
    assert 0 < float(np.mean(keep)) < 1
    if want_b is None:
        assert b_scale is None and c_scale is None
    else:
        np.testing.assert_allclose(b_scale, want_b, atol=1e-6)
        np.testing.assert_allclose(c_scale, want_c, atol=1e-6)
