import json
import os

import pytest

from lcnet_tf.models import cifar_resnet
from lcnet_tf.models.saving import file_sha256
from lcnet_tf.training import TrainConfig
from lcnet_tf.training.experiments import RESTORED
from lcnet_tf.training.experiments import ExperimentRow
from lcnet_tf.training.experiments import cifar10_rows
from lcnet_tf.training.experiments import restore_published_rows
from lcnet_tf.training.experiments import run_rows


def test_standard_rows_share_one_budget():
    rows = cifar10_rows(depth=20, static_epochs=30, finetune_epochs=10)
    names = [row.name for row in rows]
    assert names[:2] == ["resnet20_static", "resnet20_static_ft"]
    assert names[2:5] == [f"lc_resnet20_t{t}" for t in (30, 50, 70)]
    assert names[5] == "aig_resnet20_t30"
    assert names[-4:] == [
        "lc_resnet20_t50_scale_gate",
        "lc_resnet20_t50_scale_none",
        "lc_resnet20_t20_kd",
        "lc_resnet20_t30_kd",
    ]
    assert len(rows) == 2 + 4 * 3 + 2 + 2
    assert rows[-3].config.scale == "none"
    assert rows[-1].teacher_row == "resnet20_static"
    assert rows[-1].config.budget_target == 0.3
    assert [r.name for r in rows if r.teacher_row] == [
        "lc_resnet20_t20_kd",
        "lc_resnet20_t30_kd",
    ]
    assert {r.config.budget_weight for r in rows[2:]} == {16.0}
    finetuned = rows[1:]
    assert {r.init_from_row for r in finetuned} == {"resnet20_static"}
    assert {r.config.epochs for r in finetuned} == {10}
    assert {r.config.learning_rate for r in finetuned} == {0.02}
    assert rows[0].config.epochs == 30


@pytest.mark.slow
def test_rows_run_in_order_resume_and_skip(cifar10_dir, tmp_path):
    rows = cifar10_rows(
        depth=8,
        targets=(0.5,),
        gatings=("lc",),
        scale_ablations=(),
        distill_targets=(0.5,),
        static_epochs=1,
        finetune_epochs=1,
        data_dir=cifar10_dir,
        train_examples=128,
        eval_examples=64,
        batch_size=64,
        verbose=0,
    )
    with pytest.raises(FileNotFoundError, match="run that row first"):
        run_rows(rows, str(tmp_path), only=["lc_resnet8_t50"])
    with pytest.raises(ValueError, match="Unknown rows"):
        run_rows(rows, str(tmp_path), only=["nope"])
    results = run_rows(rows, str(tmp_path), evaluate_examples=50)
    assert list(results) == [
        "resnet8_static",
        "resnet8_static_ft",
        "lc_resnet8_t50",
        "lc_resnet8_t50_kd",
    ]
    for name, result in results.items():
        saved = json.loads((tmp_path / name / "result.json").read_text())
        assert saved == result
        assert saved["num_images"] == 50 and saved["row"] == name
        assert saved["exact_prefix"]["images"] == 1017
    lc = results["lc_resnet8_t50"]
    assert lc["config"]["init_from"].endswith("resnet8_static/model.keras")
    assert lc["flops_ratio"] < 1.01
    assert lc["config"]["distill_from"] is None
    distilled = results["lc_resnet8_t50_kd"]["config"]["distill_from"]
    assert distilled.endswith("resnet8_static/model.keras")
    # Done rows are read back, not retrained.
    before = os.path.getmtime(tmp_path / "lc_resnet8_t50" / "model.keras")
    again = run_rows(rows, str(tmp_path))
    assert again == results
    assert os.path.getmtime(tmp_path / "lc_resnet8_t50" / "model.keras") == (
        before
    )


def _publish(model, directory, row):
    """A published-models folder holding `model` as row `row`."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"{row}_cifar10.keras")
    model.save(path)
    manifest = {
        f"{row}_cifar10": {
            "file": os.path.basename(path),
            "sha256": file_sha256(path),
            "row": row,
            "top1": 0.5,
        }
    }
    with open(os.path.join(directory, "manifest.json"), "w") as f:
        json.dump(manifest, f)
    return path


def test_published_row_is_restored_not_retrained(cifar10_dir, tmp_path):
    rows = cifar10_rows(
        depth=8,
        gatings=(),
        scale_ablations=(),
        static_epochs=1,
        data_dir=cifar10_dir,
        train_examples=64,
        batch_size=64,
        verbose=0,
    )
    model = cifar_resnet(8, gating="none")
    published = _publish(model, str(tmp_path / "pretrained"), "resnet8_static")
    root = str(tmp_path / "runs")
    restored = restore_published_rows(rows, root, str(tmp_path / "pretrained"))
    assert restored == ["resnet8_static"]
    folder = tmp_path / "runs" / "resnet8_static"
    assert (folder / "model.keras").read_bytes() == open(published, "rb").read()
    result = run_rows(
        rows, root, only=["resnet8_static"], evaluate_examples=100
    )["resnet8_static"]
    assert result["restored_from"]["sha256"] == file_sha256(published)
    assert result["num_images"] == 100
    # Evaluated, not trained: no training state was written.
    assert not (folder / "backup").exists()
    assert not (folder / "history.csv").exists()
    # An existing folder is never replaced.
    assert (
        restore_published_rows(rows, root, str(tmp_path / "pretrained")) == []
    )


def test_a_restored_row_is_evaluated_without_the_rows_it_came_from(
    cifar10_dir, tmp_path
):
    child = ExperimentRow(
        "child",
        TrainConfig(gating="none", depth=8, data_dir=cifar10_dir),
        init_from_row="parent",
        teacher_row="parent",
    )
    directory = str(tmp_path / "pretrained")
    _publish(cifar_resnet(8, gating="none"), directory, "child")
    root = str(tmp_path / "runs")
    assert restore_published_rows([child], root, directory) == ["child"]
    result = run_rows([child], root, evaluate_examples=50)["child"]
    assert result["num_images"] == 50
    # Where it was trained from is still recorded, for the page's labels.
    assert result["config"]["init_from"] == os.path.join(
        root, "parent", "model.keras"
    )
    # A row that trains still needs them, and says which.
    os.remove(os.path.join(root, "child", "result.json"))
    os.remove(os.path.join(root, "child", RESTORED))
    with pytest.raises(FileNotFoundError, match="needs row 'parent'"):
        run_rows([child], root, evaluate_examples=50)


def test_corrupt_published_model_is_refused(tmp_path):
    rows = cifar10_rows(depth=8, gatings=(), scale_ablations=())
    directory = str(tmp_path / "pretrained")
    path = _publish(cifar_resnet(8, gating="none"), directory, "resnet8_static")
    with open(path, "ab") as f:
        f.write(b"x")
    with pytest.raises(ValueError, match="checksum"):
        restore_published_rows(rows, str(tmp_path / "runs"), directory)
    assert not (tmp_path / "runs" / "resnet8_static").exists()


def test_no_published_models_restores_nothing(tmp_path):
    rows = cifar10_rows(depth=8, gatings=(), scale_ablations=())
    assert restore_published_rows(rows, str(tmp_path), str(tmp_path)) == []
