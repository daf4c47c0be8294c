import json
import os
import re

import numpy as np
import pytest

from lcnet_tf.data import cifar10_arrays
from lcnet_tf.flops import count_flops
from lcnet_tf.flops import flops_per_image
from lcnet_tf.flops import inference_model
from lcnet_tf.models import cifar_resnet
from lcnet_tf.models import pretrained
from lcnet_tf.models import pretrained_manifest
from lcnet_tf.models.pretrained import pretrained_dir
from lcnet_tf.models.pretrained import publish_pretrained
from lcnet_tf.models.pretrained import subset_figures
from tests.fixtures import random_images
from tests.fixtures import randomize_gates


def test_publish_load_and_corruption(cifar10_dir, tmp_path):
    model = cifar_resnet(8, gating="lc")
    randomize_gates(model)
    source = str(tmp_path / "model.keras")
    model.save(source)
    result = {"row": "lc_resnet8_t50", "top1": 0.1, "flops_ratio": 0.5}
    result["flops_mean"] = 1.0
    directory = str(tmp_path / "pretrained")
    command = "lcnet-experiments --root=runs/x --rows=lc_resnet8_t50"
    entry = publish_pretrained(
        "tiny", source, result, directory, cifar10_dir, 40, command
    )
    assert entry["subset"] == 40 and 0 <= entry["top1_subset"] <= 1
    assert pretrained_manifest(directory)["tiny"]["command"] == command
    assert entry["flops_mean_subset"] > 0
    assert pretrained_manifest(directory)["tiny"]["sha256"] == entry["sha256"]
    loaded = pretrained("tiny", directory)
    x = random_images(3)
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-5)
    with pytest.raises(ValueError, match="Available: \\['tiny'\\]"):
        pretrained("nope", directory)
    with open(os.path.join(directory, "tiny.keras"), "r+b") as f:
        f.seek(100)
        f.write(b"garbage")
    with pytest.raises(ValueError, match="checksum"):
        pretrained("tiny", directory)
    with pytest.raises(FileNotFoundError, match="LCNET_PRETRAINED_DIR"):
        pretrained("tiny", str(tmp_path / "empty"))


@pytest.mark.parametrize("gating", ["lc", "none"])
def test_subset_figures_equal_predict_and_flops_per_image(gating):
    model = cifar_resnet(14, gating=gating, channel_groups=4)
    randomize_gates(model, seed=5, scale=1.5)
    images = random_images(24)
    labels = np.arange(24) % 10
    # Batches of 10: the last one is short.
    figures = subset_figures(model, images, labels, batch_size=10)
    logits = inference_model(model).predict(images, verbose=0)
    assert figures["top1_subset"] == np.mean(logits.argmax(-1) == labels)
    per_image = flops_per_image(model, images)
    assert figures["flops_mean_subset"] == per_image.mean()
    if gating == "lc":
        assert len(set(per_image.tolist())) > 1


def _shipped():
    path = os.path.join(pretrained_dir(), "manifest.json")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return sorted(json.load(f))


def test_models_are_shipped():
    names = _shipped()
    assert names, f"no pretrained models under {pretrained_dir()}"
    for name in names:
        size = os.path.getsize(
            os.path.join(pretrained_dir(), pretrained_manifest()[name]["file"])
        )
        assert size < 3_000_000, (name, size)


def test_shipped_commands_name_the_table_that_trains_the_row():
    from lcnet_tf.training.dynamic_table import cifar10_dynamic_rows

    dynamic = {row.name for row in cifar10_dynamic_rows()}
    for name in _shipped():
        entry = pretrained_manifest()[name]
        table = "dynamic" if entry["row"] in dynamic else "budget3"
        assert f"--table={table} " in entry["command"], name
        assert f"--rows={entry['row']} " in entry["command"], name


@pytest.mark.parametrize("name", _shipped())
def test_shipped_model_reproduces_its_recorded_accuracy(name, cifar10_dir):
    entry = pretrained_manifest()[name]
    model = pretrained(name)
    images, labels = cifar10_arrays(
        "test", cifar10_dir, num_examples=entry["subset"]
    )
    figures = subset_figures(model, images, labels)
    # A different CPU may round a borderline image the other way.
    assert abs(figures["top1_subset"] - entry["top1_subset"]) <= 2 / len(labels)
    assert entry["top1"] > 0.5
    # FLOPs: the shipped file runs the recorded mean on the subset, the
    # full test set's mean is close to it, and the ratio is that mean over
    # a fresh static network of the same depth.
    flops = figures["flops_mean_subset"]
    assert flops == pytest.approx(entry["flops_mean_subset"], rel=1e-9)
    assert flops == pytest.approx(entry["flops_mean"], rel=0.02)
    depth = int(re.search(r"resnet(\d+)", model.name).group(1))
    static = count_flops(cifar_resnet(depth, gating="none"))
    assert entry["flops_ratio"] == pytest.approx(
        entry["flops_mean"] / static, rel=1e-9
    )
