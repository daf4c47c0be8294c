import numpy as np
import pytest

from lcnet_tf.export import TFLiteModel
from lcnet_tf.export import check_gpu_compatible
from lcnet_tf.export import keras_reference
from lcnet_tf.export import overhead_exports
from lcnet_tf.export.interpreter import load_interpreter
from lcnet_tf.export.overhead import RUNGS
from lcnet_tf.export.overhead import ladder_runner
from lcnet_tf.flops import gated_blocks
from lcnet_tf.models import cifar_resnet
from tests.export.conftest import make_model
from tests.fixtures import random_images


def _taus(model):
    return [gate.tau for block in gated_blocks(model) for gate in block.gates]


def _run(path, images, scales=None):
    runner = load_interpreter(path).get_signature_runner()
    inputs = {} if scales is None else {"scales": scales}
    return runner(images=images, **inputs)["logits"]


@pytest.mark.parametrize("kind", ["basic", "bottleneck"])
def test_ladder_rungs_are_one_network_with_more_parts(tmp_path, kind):
    model = make_model("lc", kind=kind)
    taus = _taus(model)
    paths = overhead_exports(model, str(tmp_path), random_images(8, seed=1))
    assert list(paths) == list(RUNGS)
    # The thresholds the open rungs moved are back.
    assert _taus(model) == taus
    image = random_images(1, seed=2)
    static = _run(paths["static"], image)
    size = load_interpreter(paths["scales"]).get_input_details()
    size = next(d["shape"] for d in size if "scales" in d["name"])
    ones = np.ones(size, np.float32)
    # With every scale 1 the scaled rungs compute the static twin
    # (the pooled vectors add under 1e-6), so they time the same network.
    for rung in ("scales", "scales_pool"):
        np.testing.assert_allclose(
            _run(paths[rung], image, ones), static, atol=1e-5
        )
    # Each gated block's pooling is there (the head pools once more).
    means = {
        rung: check_gpu_compatible(paths[rung]).op_counts.get("MEAN", 0)
        for rung in ("scales", "scales_pool")
    }
    assert means["scales_pool"] - means["scales"] == len(gated_blocks(model))
    # Other scale values change the logits: they are applied.
    halves = np.full(size, 0.5, np.float32)
    assert not np.allclose(_run(paths["scales"], image, halves), static)
    # The top rungs are the model's real forms.
    reference = keras_reference(model, random_images(4, seed=3))
    outputs = TFLiteModel(paths["dynamic"]).predict(random_images(4, seed=3))
    np.testing.assert_array_equal(outputs["decisions"], reference["decisions"])


def test_ladder_runner_feeds_fixed_scales(tmp_path):
    paths = overhead_exports(make_model("l"), str(tmp_path))
    image = random_images(1, seed=4)
    for rung, path in paths.items():
        first = ladder_runner(path)(image)["logits"]
        np.testing.assert_array_equal(
            ladder_runner(path)(image)["logits"], first
        )
        assert first.shape == (1, 10), rung


def test_a_model_without_gates_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no gates"):
        overhead_exports(cifar_resnet(8, gating="none"), str(tmp_path))
