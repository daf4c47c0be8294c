import os

import pytest

from lcnet_tf.models import cifar_resnet
from tests.fixtures import random_images
from tests.fixtures import randomize_gates
from tests.fixtures import tiny_bottleneck_resnet
from tests.fixtures import warm_up_batch_norm


def predict_staged(manifest_path, images):
    """Runs a staged export on the CPU over `images`.

    Returns:
        `(outputs, calls)`: the runner's outputs and the signatures it
        called, in order.
    """
    from lcnet_tf.export import StagedRunner

    calls = []
    runner = StagedRunner(
        manifest_path,
        accelerator="cpu",
        on_call=lambda name, inputs, outputs: calls.append(name),
    )
    return runner.predict(images), calls


def make_model(gating, kind="basic", **kwargs):
    """A tiny trained-looking model whose decisions vary per image."""
    if kind == "basic":
        model = cifar_resnet(8, gating=gating, **kwargs)
    else:
        model = tiny_bottleneck_resnet(gating, **kwargs)
    warm_up_batch_norm(model, random_images(8, seed=5))
    randomize_gates(model, seed=3)
    return model


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("export"))


@pytest.fixture(scope="session")
def require_gpu():
    """GPU tests run when a WebGPU adapter exists; CI's gpu-test needs one."""
    from lcnet_tf.export import gpu_available

    if not gpu_available():
        if os.environ.get("LCNET_REQUIRE_GPU"):
            pytest.fail("LCNET_REQUIRE_GPU is set but no Vulkan driver found")
        pytest.skip("no Vulkan driver for LiteRT's WebGPU accelerator")
