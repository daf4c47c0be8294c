import numpy as np
import pytest

from lcnet_tf.export import to_tflite
from lcnet_tf.export.op_profile import profile_ops
from lcnet_tf.flops import gated_blocks
from lcnet_tf.models import cifar_resnet
from lcnet_tf.models import set_threshold
from tests.export.conftest import make_model
from tests.fixtures import random_images

CONVOLUTION = "Convolution (NHWC, F32) IGEMM"


def _conv_layers(model):
    return sum(
        1
        for layer in model._flatten_layers()
        if type(layer).__name__ == "Conv2D"
    )


def test_static_profile_times_every_convolution(tmp_path):
    model = cifar_resnet(8, gating="none")
    path = str(tmp_path / "static.tflite")
    to_tflite(model, path, form="dynamic")
    profile = profile_ops(path, random_images(3))
    assert profile.images == 3
    # Every convolution runs once per image inside XNNPACK, and nothing
    # is left to the interpreter.
    assert profile.kernel_calls[CONVOLUTION] == _conv_layers(model)
    assert profile.kernel_us[CONVOLUTION] > 0
    assert profile.total_kernel_us >= profile.kernel_us[CONVOLUTION]
    assert profile.interpreter_calls == {}
    assert profile.branch_allocations == 0
    assert profile.profiled_us >= profile.total_kernel_us


def test_closed_blocks_leave_their_convolutions_out(tmp_path):
    model = make_model("l")
    blocks = len(gated_blocks(model))
    counts = {}
    for tau in (0.0, 1.0):
        set_threshold(model, tau)
        path = str(tmp_path / f"tau{tau}.tflite")
        to_tflite(model, path, form="dynamic")
        profile = profile_ops(path, random_images(2))
        counts[tau] = profile.kernel_calls.get(CONVOLUTION, 0)
        # One IF per gated block, whatever it decides; each runs a
        # branch whose tensors LiteRT allocates.
        assert profile.interpreter_calls["IF"] == blocks
        assert profile.branch_allocations == blocks
    # Every skippable block closed: its two convolutions do not run.
    skippable = sum(
        1 for block in gated_blocks(model) if block.block_gate is not None
    )
    assert counts[0.0] - counts[1.0] == 2 * skippable


def test_profile_errors_name_the_problem(tmp_path):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a model at all")
    with pytest.raises(ValueError, match="not a TFLite model"):
        profile_ops(str(bad), random_images(1))
    with pytest.raises(FileNotFoundError, match="No TFLite model"):
        profile_ops(str(tmp_path / "missing.tflite"), random_images(1))
    path = str(tmp_path / "static.tflite")
    to_tflite(cifar_resnet(8, gating="none"), path, form="dynamic")
    with pytest.raises(ValueError, match=r"shape \(n, H, W, C\)"):
        profile_ops(path, np.zeros((32, 32, 3), np.float32))
    with pytest.raises(ValueError, match="12288 bytes per image"):
        profile_ops(path, np.zeros((1, 32, 32, 3), np.uint8))
