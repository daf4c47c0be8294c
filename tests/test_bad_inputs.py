"""Bad inputs get errors that name the problem (argument and value)."""

import numpy as np
import pytest

from lcnet_tf.export import StagedRunner
from lcnet_tf.export import to_tflite
from lcnet_tf.export.gpu_compatibility import check_gpu_compatible
from lcnet_tf.flops import flops_per_image
from lcnet_tf.models import cifar_resnet
from tests.fixtures import random_images


@pytest.fixture(scope="module")
def model():
    return cifar_resnet(8, gating="lc")


def test_inf_in_images_names_the_image(model):
    images = random_images(3)
    images[2, 0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or Inf.*batch index 2"):
        flops_per_image(model, images)


def test_rank_five_input_names_the_shape(model):
    with pytest.raises(ValueError, match=r"rank 4.*\(1, 2, 32, 32, 3\)"):
        flops_per_image(model, random_images(2)[None])


def test_corrupt_file_into_the_gpu_check(tmp_path):
    path = tmp_path / "corrupt.tflite"
    path.write_bytes(b"not a model" * 8)
    with pytest.raises(ValueError, match="corrupt.tflite.*not a TFLite"):
        check_gpu_compatible(str(path))


@pytest.fixture(scope="module")
def staged(model, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("staged") / "m.tflite")
    return StagedRunner(to_tflite(model, path, "staged").manifest_path)


@pytest.mark.parametrize(
    "images, message",
    [
        (np.full((1, 32, 32, 3), np.nan, np.float32), "NaN"),
        (np.zeros((1, 32, 32, 3), np.uint8), "floating point"),
        (np.zeros((1, 16, 16, 3), np.float32), r"\(16, 16, 3\)"),
    ],
)
def test_staged_runner_refuses_bad_images(staged, images, message):
    with pytest.raises(ValueError, match=message):
        staged.predict(images)
