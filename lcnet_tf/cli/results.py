"""Builds `results/cifar10.md` and its figures from the trained rows.

`lcnet-results --root=runs/cifar10 --data_dir=...` reads every finished
row of `lcnet-experiments`, measures what is not cached yet (TFLite
latency against the static row, the threshold sweep, per-image FLOPs)
and rewrites the generated sections of the page.
"""

from absl import app
from absl import flags

from lcnet_tf.cli import experiments

FLAGS = flags.FLAGS


def define_flags():
    experiments.define_flags()
    if "page" in FLAGS:
        return
    flags.DEFINE_string("page", "results/cifar10.md", "Page to update.")
    flags.DEFINE_integer(
        "latency_images", 500, "Test images per latency run (0: skip)."
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
    from lcnet_tf.analysis.cifar10_results import load_rows
    from lcnet_tf.analysis.results_page import budget_text
    from lcnet_tf.training.experiments import cifar10_rows

    targets = sorted(float(t) for t in FLAGS.targets)
    rows = cifar10_rows(
        depth=FLAGS.depth,
        targets=targets,
        gatings=FLAGS.gatings,
        static_epochs=FLAGS.static_epochs,
        finetune_epochs=FLAGS.finetune_epochs,
        scale_ablations=FLAGS.scale_ablations,
        ablation_target=FLAGS.ablation_target,
        data_dir=FLAGS.data_dir,
    )
    names = [row.name for row in rows]
    suffix = f"resnet{FLAGS.depth}_t{int(round(targets[0] * 100)):02d}"
    focus = FLAGS.focus_row or f"lc_{suffix}"
    report = build_cifar10_results(
        FLAGS.root,
        names,
        FLAGS.page,
        FLAGS.data_dir,
        static_row=f"resnet{FLAGS.depth}_static_ft",
        focus_row=focus,
        compare_rows=[f"{g}_{suffix}" for g in FLAGS.gatings if g != "lc"],
        latency_images=FLAGS.latency_images,
        budget_text=budget_text(load_rows(FLAGS.root, names)),
    )
    print(f"{len(report['rows'])} rows -> {FLAGS.page}")


def run():
    define_flags()
    app.run(main)


if __name__ == "__main__":
    run()
