"""Resumable CIFAR-10 experiment tables: static baseline, then gated rows.

Each row is one `TrainConfig` trained in its own folder under a root; a
row whose `result.json` exists is done and skipped, a row killed half-way
resumes from its backup. Rows run in order, so gated rows fine-tuned from
the static baseline start once it is trained.
"""

import dataclasses
import json
import os
import shutil
import time

from absl import logging

from lcnet_tf.training.config import TrainConfig

# Marks a row folder filled from a published model (not trained here).
RESTORED = "restored_from.json"


@dataclasses.dataclass
class ExperimentRow:
    """One row of a results table.

    Attributes:
        name: str. Folder name and table label.
        config: `TrainConfig` of the row (its `model_dir` is set by the
            runner).
        init_from_row: str or None. A row whose `model.keras` this row
            starts from.
        teacher_row: str or None. A row whose `model.keras` this row is
            distilled from (`TrainConfig.distill_from`).
        freeze_row: str or None. A gated row whose most frequent routing
            this row freezes and fine-tunes
            (`TrainConfig.freeze_routing_from`).
        fix_gates_row: str or None. A gated row whose model this row
            fine-tunes with its gates fixed (`TrainConfig.fix_gates_from`).
        release_row: str or None. A frozen-routing row whose model this
            row fine-tunes with its gates released
            (`TrainConfig.release_routing_from`).
        tune_gates_row: str or None. A gated row whose model this row
            fine-tunes with its gates learning again
            (`TrainConfig.tune_gates_from`).
    """

    name: str
    config: TrainConfig
    init_from_row: str | None = None
    teacher_row: str | None = None
    freeze_row: str | None = None
    fix_gates_row: str | None = None
    release_row: str | None = None
    tune_gates_row: str | None = None


def cifar10_rows(
    depth=20,
    targets=(0.3, 0.5, 0.7),
    gatings=("lc", "aig", "l", "c"),
    static_epochs=30,
    finetune_epochs=3,
    scale_ablations=("gate", "none"),
    ablation_target=0.5,
    distill_targets=(0.2, 0.3),
    data_dir=None,
    **overrides,
):
    """The standard table: static, static fine-tuned, gated fine-tuned.

    Every gated row, and the `static_ft` row that gives the static network
    the same extra epochs, starts from the static row's weights and trains
    `finetune_epochs` with one recipe, so all rows share one budget. The
    LC rows come first, then the ConvNet-AIG baseline at the same targets,
    L and C alone, and last the LC row at `ablation_target` with other
    scalings (`lc_resnet20_t50_scale_gate`, ...) and the LC rows
    distilled from the static network (`lc_resnet20_t30_kd`: same epochs,
    the static row as teacher).

    Args:
        depth: int. CIFAR ResNet depth.
        targets: FLOPs targets of the gated rows.
        gatings: gating modes of the gated rows.
        static_epochs: int. Epochs of the static baseline.
        finetune_epochs: int. Epochs of every fine-tuned row.
        scale_ablations: scalings other than `"learned"` to train an LC
            row with.
        ablation_target: float. FLOPs target of the scaling ablations.
        distill_targets: FLOPs targets of LC rows distilled from the
            static row (the distillation loss resists the budget, so
            these rows land above their target: 0.2 aims at about 0.3).
        data_dir: str or None. CIFAR-10 binaries.
        **overrides: `TrainConfig` fields set on every row (e.g.
            `train_examples` for a quick run).

    Returns:
        list of `ExperimentRow`.

    Example:
    ```python
    run_rows(cifar10_rows(depth=20), "runs/cifar10")
    ```
    """
    base = dict(
        depth=depth,
        batch_size=128,
        weight_decay=5e-4,
        seed=0,
        verbose=2,
        data_dir=data_dir,
    )
    base.update(overrides)
    static = f"resnet{depth}_static"
    rows = [
        ExperimentRow(
            static,
            TrainConfig(
                gating="none",
                epochs=static_epochs,
                learning_rate=0.1,
                warmup_epochs=1,
                **base,
            ),
        )
    ]
    # A budget weight of 16 brings the FLOPs ratio of a fresh LC-ResNet-20
    # from 1.0 to 0.33 (target 0.3) within 250 steps at this learning
    # rate; with 4 it was still at 0.49, too slow for short fine-tuning.
    finetune = dict(
        epochs=finetune_epochs, learning_rate=0.02, noise_std=0.5, **base
    )
    rows.append(
        ExperimentRow(
            f"{static}_ft",
            TrainConfig(gating="none", **{**finetune, "noise_std": 0.0}),
            init_from_row=static,
        )
    )
    for gating in gatings:
        for target in targets:
            rows.append(
                ExperimentRow(
                    f"{gating}_resnet{depth}_t{int(round(target * 100)):02d}",
                    TrainConfig(
                        gating=gating,
                        budget_target=target,
                        budget_weight=16.0,
                        **finetune,
                    ),
                    init_from_row=static,
                )
            )
    for scale in scale_ablations:
        rows.append(
            ExperimentRow(
                f"lc_resnet{depth}_t{int(round(ablation_target * 100)):02d}"
                f"_scale_{scale}",
                TrainConfig(
                    gating="lc",
                    scale=scale,
                    budget_target=ablation_target,
                    budget_weight=16.0,
                    **finetune,
                ),
                init_from_row=static,
            )
        )
    for target in distill_targets:
        rows.append(
            ExperimentRow(
                f"lc_resnet{depth}_t{int(round(target * 100)):02d}_kd",
                TrainConfig(
                    gating="lc",
                    budget_target=target,
                    budget_weight=16.0,
                    **finetune,
                ),
                init_from_row=static,
                teacher_row=static,
            )
        )
    names = [row.name for row in rows]
    if len(set(names)) != len(names):
        raise ValueError(f"Rows repeat a name: {names}")
    return rows


def restore_published_rows(rows, root, directory=None):
    """Copies published models into the row folders they came from.

    A run folder does not travel with a checkout, but `pretrained/` does:
    a row whose model was published (its manifest entry names the row) and
    that has no folder under `root` gets one holding the published file as
    its `model.keras`. `run_rows` then only evaluates it, so the rows that
    start from it (e.g. every row fine-tuned from the static baseline) can
    run on a fresh machine without training it again.

    Args:
        rows: list of `ExperimentRow`.
        root: str. Folder holding one folder per row.
        directory: str or None. Folder of the published models (default:
            `lcnet_tf.models.pretrained_dir()`).

    Returns:
        list of str: the names of the restored rows.

    Example:
    ```python
    restore_published_rows(cifar10_rows(), "runs/cifar10")
    ```
    """
    from lcnet_tf.models.pretrained import MANIFEST
    from lcnet_tf.models.pretrained import pretrained_dir
    from lcnet_tf.models.pretrained import pretrained_manifest
    from lcnet_tf.models.pretrained import verified_path

    directory = directory or pretrained_dir()
    if not os.path.exists(os.path.join(directory, MANIFEST)):
        return []
    manifest = pretrained_manifest(directory)
    by_row = {entry["row"]: name for name, entry in manifest.items()}
    restored = []
    for row in rows:
        folder = os.path.join(root, row.name)
        name = by_row.get(row.name)
        if name is None or os.path.exists(folder):
            continue
        source = verified_path(name, directory)
        entry = manifest[name]
        os.makedirs(folder + ".partial", exist_ok=True)
        shutil.copyfile(
            source, os.path.join(folder + ".partial", "model.keras")
        )
        with open(os.path.join(folder + ".partial", RESTORED), "w") as f:
            json.dump({"source": source, **entry}, f, indent=2)
        os.replace(folder + ".partial", folder)
        restored.append(row.name)
    return restored


def run_rows(rows, root, only=None, evaluate_examples=None):
    """Trains and evaluates the rows that have no result yet, in order.

    Args:
        rows: list of `ExperimentRow`.
        root: str. Folder holding one folder per row.
        only: list of row names, or None for all.
        evaluate_examples: int or None. Test images to evaluate on (None:
            all 10,000). With the shipped copy, the result also compares
            the 1,017 exact-pixel test images with their rebuilt twins.

    Returns:
        dict: row name -> its result dict (also `root/<row>/result.json`).
    """
    from lcnet_tf.data.cifar10 import cifar10_arrays
    from lcnet_tf.data.cifar10 import cifar10_dataset
    from lcnet_tf.data.cifar10 import resolve_data_dir
    from lcnet_tf.data.exact_prefix import EXACT_PREFIX_FILE
    from lcnet_tf.data.exact_prefix import exact_prefix_report
    from lcnet_tf.models.saving import load_model
    from lcnet_tf.training.evaluation import evaluate_model
    from lcnet_tf.training.evaluation import shut_block_warnings
    from lcnet_tf.training.trainer import train

    names = [row.name for row in rows]
    unknown = sorted(set(only or ()) - set(names))
    if unknown:
        raise ValueError(f"Unknown rows {unknown}; rows are {names}.")
    results = {}
    for row in rows:
        if only and row.name not in only:
            continue
        folder = os.path.join(root, row.name)
        result_path = os.path.join(folder, "result.json")
        if os.path.exists(result_path):
            with open(result_path) as f:
                results[row.name] = json.load(f)
            continue
        config = dataclasses.replace(row.config, model_dir=folder)
        start = time.time()
        restored = _read_restored(folder)
        # A restored row is only evaluated: the rows it was trained from
        # are recorded but need not exist.
        config = _with_sources(config, row, root, restored is None)
        if restored is None:
            model, _ = train(config)
        else:
            model = load_model(
                os.path.join(folder, "model.keras"), compile=False
            )
        dataset = cifar10_dataset(
            "test",
            data_dir=config.data_dir,
            batch_size=500,
            training=False,
            num_examples=evaluate_examples,
        )
        agreement_images, _ = cifar10_arrays(
            "test", config.data_dir, num_examples=1024
        )
        result = evaluate_model(model, dataset, agreement_images)
        for line in shut_block_warnings(result):
            # Seen with nested channel gates (seeds 1 and 2 of the 0.65
            # nested row): a quiet loss of a block a user would miss.
            logging.warning("Row %s: %s", row.name, line)
        data_dir = resolve_data_dir(config.data_dir)
        if data_dir and os.path.exists(
            os.path.join(data_dir, EXACT_PREFIX_FILE)
        ):
            result["exact_prefix"] = exact_prefix_report(model, data_dir)
        if restored is not None:
            result["restored_from"] = restored
        result.update(
            row=row.name,
            config=dataclasses.asdict(config),
            train_seconds_this_run=time.time() - start,
        )
        with open(result_path + ".partial", "w") as f:
            json.dump(result, f, indent=2)
        os.replace(result_path + ".partial", result_path)
        results[row.name] = result
    return results


def _with_sources(config, row, root, must_exist=True):
    """`config` with the models of the rows `row` starts from, fixes,
    freezes or learns from; `must_exist`: refuse a missing one."""
    for field, source in (
        ("init_from", row.init_from_row),
        ("freeze_routing_from", row.freeze_row),
        ("fix_gates_from", row.fix_gates_row),
        ("release_routing_from", row.release_row),
        ("tune_gates_from", row.tune_gates_row),
        ("distill_from", row.teacher_row),
    ):
        if source:
            path = os.path.join(root, source, "model.keras")
            if must_exist:
                path = _row_model(root, source, row.name)
            config = dataclasses.replace(config, **{field: path})
    return config


def _row_model(root, name, needed_by):
    """The `model.keras` of row `name`, which row `needed_by` needs."""
    path = os.path.join(root, name, "model.keras")
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"Row '{needed_by}' needs row '{name}', which has no model yet "
            f"({path}): run that row first."
        )
    return path


def _read_restored(folder):
    path = os.path.join(folder, RESTORED)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        entry = json.load(f)
    return {key: entry[key] for key in ("file", "sha256", "top1")}
