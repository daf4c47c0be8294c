"""Exports of models whose projection blocks are gated too
(`gate_projection_blocks=True`): a skipped block that changes shape runs
its projection shortcut alone, in every form."""

import os

import keras
import numpy as np
import pytest

from lcnet_tf.export import TFLiteModel
from lcnet_tf.export import executed_flops
from lcnet_tf.export import fold_model
from lcnet_tf.export import keras_reference
from lcnet_tf.export import parity_report
from lcnet_tf.export import prune_network
from lcnet_tf.export import to_tflite
from lcnet_tf.export.manifest import read_manifest
from lcnet_tf.flops import gated_blocks
from lcnet_tf.training.frozen_routing import freeze_routing
from lcnet_tf.training.frozen_routing import most_frequent_routing
from tests.export.conftest import make_model
from tests.export.conftest import predict_staged
from tests.fixtures import random_images

CASES = [
    ("basic", "l"),
    ("basic", "lc"),
    ("basic", "aig"),
    ("bottleneck", "lc"),
]


def _images():
    return random_images(12, seed=21)


def _centred(model):
    """Sets each projection block gate's threshold to the median of its
    keep-probabilities on `_images()`: half of them skip it."""
    images = _images()
    for block in gated_blocks(model):
        if block.projection:
            inputs = keras.Model(model.input, block.input)(images)
            _, _, prob = block.block_gate(inputs)
            block.block_gate.tau = float(np.median(np.asarray(prob)))
    return model


@pytest.fixture(scope="module")
def models():
    return {
        case: _centred(
            make_model(case[1], kind=case[0], gate_projection_blocks=True)
        )
        for case in CASES
    }


def _projection_runs(model, decisions):
    """Block decisions of the gated blocks that change shape."""
    index = [i for i, b in enumerate(gated_blocks(model)) if b.projection]
    assert index, "the model has no gated projection block"
    return decisions[:, index, 0]


def _check_parity(reference, outputs):
    report = parity_report(reference, outputs)
    assert report["max_logit_diff"] < 1e-4, report
    assert report["decision_agreement"] == 1.0, report


@pytest.mark.parametrize("case", CASES, ids="-".join)
def test_projection_blocks_are_skipped_per_image(case, models):
    model = models[case]
    assert all(b.block_gate is not None for b in gated_blocks(model))
    runs = _projection_runs(
        model, keras_reference(model, _images())["decisions"]
    )
    # Both decisions occur, so the exports below are tested on both.
    assert 0.0 < runs.mean() < 1.0


@pytest.mark.parametrize("form", ["masked", "dynamic"])
@pytest.mark.parametrize("case", CASES, ids="-".join)
def test_masked_and_dynamic_match_keras(case, form, models, export_dir):
    model = models[case]
    images = _images()
    export = to_tflite(model, os.path.join(export_dir, f"{form}.tflite"), form)
    outputs = TFLiteModel(export.path).predict(images)
    reference = keras_reference(model, images)
    _check_parity(reference, outputs)
    if form == "masked":
        return
    ran = executed_flops(
        fold_model(model), outputs["decisions"], outputs["chunks"]
    )
    if case[1] in ("l", "aig"):
        # Without channel gates the form runs exactly what Keras counts:
        # a skipped projection block costs its shortcut and gate.
        np.testing.assert_array_equal(ran, reference["flops"])
    else:
        assert np.all(ran >= reference["flops"])


def test_dynamic_prefix_matches_keras(models, export_dir):
    model = models[("basic", "lc")]
    images = _images()
    export = to_tflite(
        model,
        os.path.join(export_dir, "prefix.tflite"),
        "dynamic",
        channel_chunks="prefix",
        representative_data=random_images(32, seed=22),
    )
    outputs = TFLiteModel(export.path).predict(images)
    _check_parity(keras_reference(model, images), outputs)


@pytest.mark.parametrize("case", CASES, ids="-".join)
def test_staged_runs_the_projection_of_a_skipped_block(
    case, models, export_dir
):
    model = models[case]
    images = _images()
    path = os.path.join(export_dir, f"staged_{'_'.join(case)}.tflite")
    export = to_tflite(model, path, "staged")
    manifest, _ = read_manifest(export.manifest_path)
    skips = {b["skip"] for b in manifest["blocks"] if "skip" in b}
    projections = [
        b for b in fold_model(model).blocks if b.shortcut is not None
    ]
    assert len(skips) == len(projections)
    outputs, calls = predict_staged(export.manifest_path, images)
    reference = keras_reference(model, images)
    _check_parity(reference, outputs)
    assert skips & set(calls)
    if case[1] in ("l", "aig"):
        np.testing.assert_array_equal(outputs["flops"], reference["flops"])


def test_closed_projection_blocks_everywhere(export_dir):
    from lcnet_tf.models import set_threshold

    model = make_model("l", gate_projection_blocks=True)
    set_threshold(model, 1.0, kind="block")
    images = random_images(3, seed=23)
    reference = keras_reference(model, images)
    assert reference["decisions"][..., 0].max() == 0.0
    network = fold_model(model)
    # Stem, head, and each block's shortcut and gate head.
    expected = network.fixed_flops + sum(
        b.keras_block.skipped_flops() for b in network.gated_blocks
    )
    np.testing.assert_array_equal(reference["flops"], expected)
    for form in ("dynamic", "staged"):
        export = to_tflite(
            model, os.path.join(export_dir, f"closed_{form}.tflite"), form
        )
        if form == "staged":
            outputs, _ = predict_staged(export.manifest_path, images)
        else:
            outputs = TFLiteModel(export.path).predict(images)
            outputs["flops"] = executed_flops(
                network, outputs["decisions"], outputs["chunks"]
            )
        _check_parity(reference, outputs)
        np.testing.assert_array_equal(outputs["flops"], expected)


def test_frozen_routing_prunes_a_closed_projection_block_to_its_shortcut(
    export_dir,
):
    model = _centred(make_model("lc", gate_projection_blocks=True))
    images = _images()
    routing, _ = most_frequent_routing(model, images)
    projection = [b for b in gated_blocks(model) if b.projection][0]
    routing[projection.name]["run"] = 0
    freeze_routing(model, routing, images)
    pruned = {b.name: b for b in prune_network(fold_model(model)).blocks}
    assert pruned[projection.name].convs == []
    assert pruned[projection.name].shortcut is not None
    export = to_tflite(
        model, os.path.join(export_dir, "pruned.tflite"), prune=True
    )
    logits = TFLiteModel(export.path).predict(images)["logits"]
    expected = np.asarray(model(images, training=False))
    np.testing.assert_allclose(logits, expected, atol=1e-4)
