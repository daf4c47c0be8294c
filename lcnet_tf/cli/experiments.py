"""Runs the CIFAR-10 results table, row by row, resumable.

`lcnet-experiments --root=runs/cifar10 --depth=20` trains the static
baseline, then L/C/LC rows fine-tuned from it at each FLOPs target; kill
it any time and run it again to continue. `--list` prints the rows.
"""

import json

from absl import app
from absl import flags

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
    flags.DEFINE_list("targets", ["0.3", "0.5", "0.7"], "FLOPs targets.")
    flags.DEFINE_list("gatings", ["lc", "aig", "l", "c"], "Gated row kinds.")
    flags.DEFINE_integer("static_epochs", 30, "Static baseline epochs.")
    flags.DEFINE_integer("finetune_epochs", 3, "Fine-tuning epochs.")
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
    from lcnet_tf.training.experiments import cifar10_rows

    return cifar10_rows(
        depth=FLAGS.depth,
        targets=sorted(float(t) for t in FLAGS.targets),
        gatings=FLAGS.gatings,
        static_epochs=FLAGS.static_epochs,
        finetune_epochs=FLAGS.finetune_epochs,
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
            line = f"{row.name} <- {row.init_from_row or 'scratch'}"
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
    define_flags()
    app.run(main)


if __name__ == "__main__":
    run()
