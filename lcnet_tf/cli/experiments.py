"""Runs the CIFAR-10 results table, row by row, resumable.

`lcnet-experiments --root=runs/cifar10 --depth=20` trains the static
baseline, then L/C/LC rows fine-tuned from it at each FLOPs target; kill
it any time and run it again to continue. `--list` prints the rows.
"""

import json

from absl import app
from absl import flags

from lcnet_tf.cli.launcher import launch

FLAGS = flags.FLAGS


def define_flags():
    if "root" in FLAGS:
        return
    flags.DEFINE_string("root", "runs/cifar10", "One folder per row.")
    if "data_dir" not in FLAGS:
        flags.DEFINE_string(
            "data_dir", None, "Folder with the CIFAR-10 binary files."
        )
    if "depth" not in FLAGS:
        flags.DEFINE_integer("depth", 20, "CIFAR ResNet depth.")
    flags.DEFINE_enum(
        "table",
        "dynamic",
        ["dynamic", "budget3"],
        "Which table: 'dynamic' (gated rows against static ResNet-8/14/20 "
        "and frozen-routing rows of the same epochs, gate-training recipe "
        "of issue 13) or 'budget3' (the first table: 3 fine-tuning "
        "epochs, every gating at every target, ablations).",
    )
    flags.DEFINE_list(
        "targets",
        [],
        "FLOPs targets of the LC rows (default: 0.3, 0.5, 0.65 for "
        "'dynamic', each with a frozen-routing row; 0.3, 0.5, 0.7 for "
        "'budget3').",
    )
    flags.DEFINE_list("gatings", ["lc", "aig", "l", "c"], "Gated row kinds.")
    flags.DEFINE_integer("static_epochs", 30, "Static baseline epochs.")
    flags.DEFINE_integer(
        "finetune_epochs",
        None,
        "Fine-tuning epochs (default: 10 for 'dynamic', 3 for 'budget3').",
    )
    flags.DEFINE_list(
        "scale_ablations", ["gate", "none"], "Other scalings of an LC row."
    )
    flags.DEFINE_float(
        "ablation_target", 0.5, "FLOPs target of the scaling ablations."
    )
    flags.DEFINE_list(
        "distill_targets",
        ["0.2", "0.3"],
        "FLOPs targets of LC rows distilled from the static row.",
    )
    flags.DEFINE_list(
        "seeds",
        ["1", "2"],
        "'dynamic': other seeds that the closest comparisons (recipe 5 "
        "at 0.3 against the distilled ResNet-8, at 0.65 against ResNet-14 "
        "and recipe 9) are trained again with.",
    )
    flags.DEFINE_list("rows", [], "Only these rows (default: all).")
    flags.DEFINE_boolean(
        "restore_published",
        True,
        "Rows with a published model (in --pretrained_dir) and no folder "
        "under --root start from that model instead of training again.",
    )
    flags.DEFINE_string(
        "pretrained_dir", "pretrained", "Folder of the published models."
    )
    flags.DEFINE_boolean("list", False, "Print the rows and exit.")


def rows_from_flags():
    """The `ExperimentRow`s the flags describe."""
    from lcnet_tf.training.dynamic_table import cifar10_dynamic_rows
    from lcnet_tf.training.experiments import cifar10_rows

    targets = sorted(float(t) for t in FLAGS.targets)
    if FLAGS.table == "dynamic":
        chosen = dict(targets=targets, frozen_targets=targets)
        return cifar10_dynamic_rows(
            **(chosen if targets else {}),
            single_target=FLAGS.ablation_target,
            static_epochs=FLAGS.static_epochs,
            finetune_epochs=FLAGS.finetune_epochs or 10,
            seeds=[int(seed) for seed in FLAGS.seeds],
            data_dir=FLAGS.data_dir,
        )
    targets = targets or [0.3, 0.5, 0.7]
    return cifar10_rows(
        depth=FLAGS.depth,
        targets=targets,
        gatings=FLAGS.gatings,
        static_epochs=FLAGS.static_epochs,
        finetune_epochs=FLAGS.finetune_epochs or 3,
        scale_ablations=FLAGS.scale_ablations,
        ablation_target=FLAGS.ablation_target,
        distill_targets=[float(t) for t in FLAGS.distill_targets],
        data_dir=FLAGS.data_dir,
    )


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    from lcnet_tf.training.experiments import restore_published_rows
    from lcnet_tf.training.experiments import run_rows

    try:
        rows = rows_from_flags()
    except ValueError as error:
        raise app.UsageError(str(error)) from None
    if FLAGS.list:
        for row in rows:
            source = row.init_from_row or "scratch"
            if row.freeze_row:
                source = f"frozen {row.freeze_row}"
                if row.init_from_row:
                    source += f" on {row.init_from_row} weights"
            if row.fix_gates_row:
                source = f"{row.fix_gates_row}, gates fixed"
            if row.release_row:
                source = f"{row.release_row}, routing released"
            if row.tune_gates_row:
                source = f"{row.tune_gates_row}, gates tuned"
            line = f"{row.name} <- {source}"
            if row.teacher_row:
                line += f", distilled from {row.teacher_row}"
            print(line)
        return
    if FLAGS.restore_published:
        for name in restore_published_rows(
            rows, FLAGS.root, FLAGS.pretrained_dir
        ):
            print(f"{name}: restored from {FLAGS.pretrained_dir}/")
    results = run_rows(rows, FLAGS.root, only=FLAGS.rows or None)
    summary = {
        name: {
            "top1": result["top1"],
            "flops_ratio": result["flops_ratio"],
        }
        for name, result in results.items()
    }
    print(json.dumps(summary, indent=2))


def run():
    launch(main, define_flags, __name__)


if __name__ == "__main__":
    run()
