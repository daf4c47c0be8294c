import numpy as np
import pytest

from lcnet_tf import flops
from lcnet_tf.models import imagenet_resnet
from lcnet_tf.models import init_from_static
from tests.fixtures import random_images


@pytest.mark.parametrize("depth, gated", [(18, 5), (50, 12)])
def test_small_input_forward(depth, gated):
    model = imagenet_resnet(
        depth, gating="lc", num_classes=7, input_shape=(64, 64, 3)
    )
    # L-Net can gate every block that keeps its shape; C-Net every block.
    blocks = flops.gated_blocks(model)
    assert len(blocks) == (8 if depth == 18 else 16)
    assert sum(b.block_gate is not None for b in blocks) == gated
    assert model.predict(random_images(2, 64), verbose=0).shape == (2, 7)


def test_static_init_parity_bottleneck():
    static = imagenet_resnet(50, num_classes=5, input_shape=(32, 32, 3))
    gated = init_from_static(
        imagenet_resnet(50, gating="l", num_classes=5, input_shape=(32, 32, 3)),
        static,
    )
    x = random_images(2)
    # Equal up to float reassociation in the compiled graphs.
    np.testing.assert_allclose(
        gated.predict(x, verbose=0),
        static.predict(x, verbose=0),
        rtol=1e-5,
        atol=1e-5,
    )


def test_bad_depth():
    with pytest.raises(ValueError, match="depth"):
        imagenet_resnet(20)
