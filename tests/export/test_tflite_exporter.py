import os

import numpy as np
import pytest

from lcnet_tf.export import TFLiteModel
from lcnet_tf.export import executed_flops
from lcnet_tf.export import fold_model
from lcnet_tf.export import keras_reference
from lcnet_tf.export import parity_report
from lcnet_tf.export import to_tflite
from lcnet_tf.export.gpu_compatibility import check_gpu_compatible
from tests.export.conftest import make_model
from tests.fixtures import random_images

CASES = [
    ("basic", "none"),
    ("basic", "l"),
    ("basic", "c"),
    ("basic", "lc"),
    ("basic", "aig"),
    ("bottleneck", "lc"),
    ("bottleneck", "c"),
]


@pytest.fixture(scope="module")
def models():
    return {case: make_model(case[1], kind=case[0]) for case in CASES}


def _check_parity(reference, outputs):
    report = parity_report(reference, outputs)
    assert report["max_logit_diff"] < 1e-4, report
    assert report["top1_agreement"] == 1.0
    if reference["decisions"] is not None:
        assert report["decision_agreement"] == 1.0, report


@pytest.mark.parametrize("case", CASES, ids="-".join)
def test_masked_matches_keras_any_batch(case, models, export_dir):
    model = models[case]
    images = random_images(6, seed=11)
    export = to_tflite(model, os.path.join(export_dir, "m.tflite"))
    assert export.form == "masked" and export.signatures == ["serving_default"]
    runner = TFLiteModel(export.path)
    assert runner.batch_size is None
    _check_parity(keras_reference(model, images), runner(images))
    # Masked outputs are GPU-delegable whatever the gating.
    assert check_gpu_compatible(export.path).compatible


@pytest.mark.parametrize("chunks", [None, 2])
@pytest.mark.parametrize("case", CASES, ids="-".join)
def test_dynamic_matches_keras_and_counts_executed_flops(
    case, chunks, models, export_dir
):
    model = models[case]
    images = random_images(6, seed=12)
    export = to_tflite(
        model,
        os.path.join(export_dir, "d.tflite"),
        "dynamic",
        channel_chunks=chunks,
    )
    runner = TFLiteModel(export.path)
    assert runner.batch_size == 1
    reference = keras_reference(model, images)
    outputs = runner.predict(images)
    _check_parity(reference, outputs)
    if reference["decisions"] is None:
        return
    network = fold_model(model)
    ran = executed_flops(
        network, outputs["decisions"], outputs["chunks"], chunks
    )
    # Whole chunks run, so the graph computes at least what the decisions
    # need and never more than the open network.
    assert np.all(ran >= reference["flops"])
    assert np.all(ran <= network.static_flops * 1.01)


def test_dynamic_flops_equal_decisions_when_chunks_are_gate_groups(
    export_dir,
):
    # Gate groups of 16 channels make every chunk all-kept or all-skipped.
    model = make_model("lc", channel_groups=8)
    images = random_images(6, seed=13)
    export = to_tflite(
        model,
        os.path.join(export_dir, "g.tflite"),
        "dynamic",
        channel_chunks="groups",
    )
    outputs = TFLiteModel(export.path).predict(images)
    reference = keras_reference(model, images)
    network = fold_model(model)
    ran = executed_flops(
        network, outputs["decisions"], outputs["chunks"], "groups"
    )
    np.testing.assert_array_equal(ran, reference["flops"])
    assert ran.max() < network.static_flops


def test_thresholds_are_baked_in_and_closed_blocks_cost_only_gates(
    export_dir,
):
    from lcnet_tf.models import set_threshold

    model = make_model("lc", channel_groups=16)
    set_threshold(model, 1.0, kind="block")  # only p >= 1 keeps a block
    images = random_images(3, seed=14)
    export = to_tflite(
        model,
        os.path.join(export_dir, "t.tflite"),
        "dynamic",
        channel_chunks="groups",
    )
    outputs = TFLiteModel(export.path).predict(images)
    reference = keras_reference(model, images)
    _check_parity(reference, outputs)
    skippable = [b.block_gate is not None for b in fold_model(model).blocks]
    closed = outputs["decisions"][:, skippable, 0]
    assert closed.size and closed.max() == 0.0
    assert outputs["chunks"][:, skippable].max() == 0.0
    ran = executed_flops(
        fold_model(model), outputs["decisions"], outputs["chunks"], "groups"
    )
    np.testing.assert_array_equal(ran, reference["flops"])


def test_wrong_batch_and_bad_images(models, export_dir):
    model = models[("basic", "lc")]
    export = to_tflite(model, os.path.join(export_dir, "b.tflite"), "dynamic")
    runner = TFLiteModel(export.path)
    with pytest.raises(ValueError, match="serves batch 1"):
        runner(random_images(2))
    with pytest.raises(ValueError, match="shape"):
        runner(random_images(1, size=16))
    with pytest.raises(ValueError, match="floating point"):
        runner(np.zeros((1, 32, 32, 3), np.uint8))
    bad = random_images(1)
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        runner(bad)


def test_corrupt_and_missing_files(tmp_path, models, export_dir):
    export = to_tflite(
        models[("basic", "l")], os.path.join(export_dir, "c.tflite")
    )
    with pytest.raises(FileNotFoundError, match="No TFLite model"):
        TFLiteModel(str(tmp_path / "missing.tflite"))
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a model at all")
    with pytest.raises(ValueError, match="not a TFLite model"):
        TFLiteModel(str(junk))
    truncated = tmp_path / "truncated.tflite"
    content = open(export.path, "rb").read()
    truncated.write_bytes(content[: len(content) // 3])
    with pytest.raises(ValueError, match="corrupt or truncated"):
        TFLiteModel(str(truncated))


def test_interpreter_options_change_time_not_outputs(models, export_dir):
    from lcnet_tf.export.interpreter import INTERPRETER_OPTIONS

    export = to_tflite(
        models[("basic", "lc")],
        os.path.join(export_dir, "options.tflite"),
        form="dynamic",
    )
    images = random_images(3, seed=11)
    expected = TFLiteModel(export.path).predict(images)
    for option in INTERPRETER_OPTIONS:
        runner = TFLiteModel(export.path, interpreter_options={option: True})
        outputs = runner.predict(images)
        np.testing.assert_allclose(
            outputs["logits"], expected["logits"], atol=1e-5
        )
        np.testing.assert_array_equal(
            outputs["decisions"], expected["decisions"]
        )
    with pytest.raises(ValueError, match="Unknown interpreter option 'fast'"):
        TFLiteModel(export.path, interpreter_options={"fast": True})
    with pytest.raises(ValueError, match="must be True or False"):
        TFLiteModel(
            export.path,
            interpreter_options={INTERPRETER_OPTIONS[0]: "yes"},
        )


def test_bad_arguments(models, export_dir):
    model = models[("basic", "lc")]
    path = os.path.join(export_dir, "x.tflite")
    with pytest.raises(ValueError, match="form"):
        to_tflite(model, path, form="fast")
    with pytest.raises(ValueError, match="quantization"):
        to_tflite(model, path, quantization="int4")
    with pytest.raises(ValueError, match="representative_data"):
        to_tflite(model, path, quantization="int8")
    with pytest.raises(ValueError, match="representative_data"):
        to_tflite(
            model,
            path,
            quantization="int8",
            representative_data=random_images(2, size=16),
        )
    with pytest.raises(ValueError, match="serves batch 1"):
        to_tflite(model, path, form="staged", batch_size=4)
    with pytest.raises(ValueError, match="channel_chunks"):
        to_tflite(model, path, form="dynamic", channel_chunks=3)


@pytest.mark.parametrize("form", ["masked", "dynamic", "staged"])
@pytest.mark.parametrize("quantization", ["float16", "dynamic_range", "int8"])
def test_quantized_forms_convert_and_run(
    form, quantization, models, export_dir
):
    from lcnet_tf.export import StagedRunner

    model = models[("basic", "lc")]
    images = random_images(3, seed=15)
    export = to_tflite(
        model,
        os.path.join(export_dir, f"q_{form}_{quantization}.tflite"),
        form=form,
        quantization=quantization,
        representative_data=random_images(8, seed=16),
    )
    float_size = to_tflite(
        model, os.path.join(export_dir, f"f_{form}.tflite"), form=form
    ).size_bytes
    assert export.size_bytes < 0.7 * float_size
    if form == "staged":
        outputs = StagedRunner(export.manifest_path, accelerator="cpu").predict(
            images
        )
    else:
        outputs = TFLiteModel(export.path).predict(images)
    reference = keras_reference(model, images)
    assert outputs["logits"].shape == reference["logits"].shape
    assert np.all(np.isfinite(outputs["logits"]))
    if quantization == "float16":
        np.testing.assert_allclose(
            outputs["logits"],
            reference["logits"],
            atol=0.05 * np.abs(reference["logits"]).max(),
        )
