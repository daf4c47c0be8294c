"""Builds `results/cifar10.md` and its figures from the trained rows.

`lcnet-results --root=runs/cifar10 --data_dir=...` reads every finished
row of `lcnet-experiments`, measures what is not cached yet (TFLite
latency against the static row, the threshold sweep, per-image FLOPs)
and rewrites the generated sections of the page.
"""

import os

from absl import app
from absl import flags

from lcnet_tf.cli import experiments
from lcnet_tf.cli.launcher import launch

FLAGS = flags.FLAGS


def define_flags():
    experiments.define_flags()
    if "page" in FLAGS:
        return
    flags.DEFINE_string(
        "page",
        None,
        "Page to update (default: results/cifar10_dynamic.md for "
        "--table=dynamic, results/cifar10.md for --table=budget3).",
    )
    flags.DEFINE_integer(
        "latency_images", 500, "Test images per latency run (0: skip)."
    )
    flags.DEFINE_list(
        "publish",
        [],
        "Rows to publish under --pretrained_dir as <row>_cifar10.keras.",
    )
    flags.DEFINE_integer(
        "publish_subset", 1000, "Test images of the recorded subset top-1."
    )
    flags.DEFINE_list(
        "taus",
        None,
        "Thresholds of every gated row's sweep, comma-separated (default: "
        "the pages' nine, 0.05 to 0.95). Sweeps cached for other "
        "thresholds are measured again.",
    )
    flags.DEFINE_integer(
        "calibration_examples",
        None,
        "Training images that choose each gated row's operating points "
        "(default 10,000).",
        lower_bound=1,
    )
    flags.DEFINE_string(
        "focus_row",
        None,
        "Row of the sweep and the figures (default: "
        "the LC row at the lowest target).",
    )


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    from lcnet_tf.analysis import build_cifar10_results
    from lcnet_tf.analysis.budget_text import budget_text
    from lcnet_tf.analysis.cifar10_results import load_rows
    from lcnet_tf.analysis.threshold_sweep import DEFAULT_TAUS
    from lcnet_tf.analysis.threshold_sweep import parse_taus
    from lcnet_tf.models.pretrained import publish_pretrained

    try:
        taus = (
            DEFAULT_TAUS
            if FLAGS.taus is None
            else parse_taus(FLAGS.taus, "--taus")
        )
    except ValueError as error:
        raise app.UsageError(str(error)) from None
    targets = sorted(float(t) for t in FLAGS.targets) or [0.3]
    rows = experiments.rows_from_flags()
    names = [row.name for row in rows]
    finished = {row["row"]: row for row in load_rows(FLAGS.root, names)}
    if FLAGS.table == "dynamic":
        page = FLAGS.page or "results/cifar10_dynamic.md"
        finetune = f"_e{FLAGS.finetune_epochs or 10}"
        # The table's gated rows also carry their recipe's tag.
        depth, tail = 20, f"{finetune}_r3"
        single = f"_resnet20_t{int(round(FLAGS.ablation_target * 100)):02d}"
        compare = [f"{g}{single}{tail}" for g in ("l", "c", "aig")]
        compare += [f"lc{single}{tail}_frozen"]
    else:
        page = FLAGS.page or "results/cifar10.md"
        depth, tail = FLAGS.depth, ""
        finetune = ""
        single = f"_resnet{depth}_t{int(round(targets[0] * 100)):02d}"
        compare = [f"{g}{single}" for g in FLAGS.gatings if g != "lc"]
        compare += [f"lc{single}_kd"]
    suffix = f"resnet{depth}_t{int(round(targets[0] * 100)):02d}{tail}"
    # The static row of the same budget, or the baseline it starts from
    # while that row is not trained yet.
    static_row = f"resnet{depth}_static_ft{finetune}"
    if static_row not in finished:
        static_row = f"resnet{depth}_static"
    try:
        report = build_cifar10_results(
            FLAGS.root,
            names,
            page,
            FLAGS.data_dir,
            static_row=static_row,
            focus_row=FLAGS.focus_row or f"lc_{suffix}",
            compare_rows=compare,
            latency_images=FLAGS.latency_images,
            taus=taus,
            budget_text=budget_text(list(finished.values())),
            calibration_examples=FLAGS.calibration_examples,
        )
    except FileNotFoundError as error:
        raise app.UsageError(str(error)) from None
    print(f"{len(report['rows'])} rows -> {page}")
    for row in FLAGS.publish:
        if row not in finished:
            raise app.UsageError(f"Row {row!r} has no result to publish.")
        entry = publish_pretrained(
            f"{row}_cifar10",
            os.path.join(FLAGS.root, row, "model.keras"),
            finished[row],
            FLAGS.pretrained_dir,
            FLAGS.data_dir,
            FLAGS.publish_subset,
            command=(
                f"lcnet-experiments --table={FLAGS.table} "
                f"--root={FLAGS.root} --rows={row} (see {page})"
            ),
        )
        print(f"published {row}: top-1 {entry['top1']:.4f}")


def run():
    launch(main, define_flags, __name__, experiments.__name__)


if __name__ == "__main__":
    run()
