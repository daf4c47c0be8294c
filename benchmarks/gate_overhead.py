"""Where a gated model's time goes, part by part, at 1 and 2 threads.

For each trained gated model, `lcnet_tf.export.overhead_exports` writes
a ladder of batch-1 exports of the same folded weights: its static twin,
then + LC-Net's per-image scales on feature maps, + each gate's pooling,
+ the gate heads' arithmetic (the masked form, every gate open), + the
conditionals (the dynamic form, every gate open), and the dynamic form
with its own routing. They are timed on real CIFAR-10 test images,
turns interleaved, at each thread count; each rung's latency is against
the static twin's in the same run, by the median (at 2 threads on this
2-core machine the mean moves with the host's scheduling more than
these parts cost) and by the mean. Writes `gate_overhead.json` and a
plot. Run on a quiet machine:

    python benchmarks/gate_overhead.py \
        --gated_models=pretrained/lc_resnet20_t65_e10_r14_cifar10.keras \
        --data_dir=../shared/data/cifar10 --examples=800
"""

import json
import os
import tempfile

from absl import app
from absl import flags

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_list("gated_models", [], "Trained gated `.keras` models.")
    flags.DEFINE_string("data_dir", None, "CIFAR-10 binary folder.")
    flags.DEFINE_integer("examples", 800, "Test images per rung.")
    flags.DEFINE_integer("rounds", 40, "Turns per rung and thread count.")
    flags.DEFINE_list("threads", ["1", "2"], "XNNPACK thread counts.")
    flags.DEFINE_string(
        "output_dir", "benchmarks/results", "Where JSON and plot go."
    )


def time_ladder(paths, images, threads, rounds):
    """Times the rungs at each thread count, turns interleaved.

    Returns:
        `({threads: {rung: stats}}, {rung: outputs of the last run})`;
        stats gain `median_vs_static` and `mean_vs_static`.
    """
    from lcnet_tf.export.latency import measure_interleaved
    from lcnet_tf.export.overhead import ladder_runner

    timings, outputs = {}, {}
    for count in threads:
        runners = {
            rung: ladder_runner(path, num_threads=count)
            for rung, path in paths.items()
        }
        stats, outputs = measure_interleaved(
            runners, images, warmup=10, rounds=rounds
        )
        base = stats["static"]
        for entry in stats.values():
            for key in ("median", "mean"):
                entry[f"{key}_vs_static"] = (
                    entry[f"{key}_ms"] / base[f"{key}_ms"]
                )
        timings[count] = stats
    return timings, outputs


def run_benchmark(
    gated_models, data_dir, examples, threads, output_dir, rounds=40
):
    """The benchmark as a library function; returns the results dict.

    `results["models"][path]["threads_<n>"][rung]` holds the rung's
    stats; `flops_ratio` is the gated model's mean Keras FLOPs ratio on
    the images (its own routing) and `top1` each real form's top-1.
    """
    import numpy as np

    from lcnet_tf.data.cifar10 import cifar10_arrays
    from lcnet_tf.export import fold_model
    from lcnet_tf.export.channel_order import calibration_images
    from lcnet_tf.export.latency import stack_outputs
    from lcnet_tf.export.overhead import overhead_exports
    from lcnet_tf.flops import flops_per_image
    from lcnet_tf.models.saving import load_model

    if not gated_models:
        raise ValueError("gated_models is empty: name at least one model.")
    threads = [int(count) for count in threads]
    images, labels = cifar10_arrays("test", data_dir, num_examples=examples)
    calibration = calibration_images(data_dir)
    results = {"images": int(len(images)), "rounds": rounds, "models": {}}
    for model_path in gated_models:
        model = load_model(model_path, compile=False)
        static_flops = fold_model(model).static_flops
        entry = {
            "flops_ratio": float(
                np.mean(flops_per_image(model, images)) / static_flops
            ),
            "top1": {},
        }
        with tempfile.TemporaryDirectory() as directory:
            paths = overhead_exports(model, directory, calibration)
            timings, outputs = time_ladder(paths, images, threads, rounds)
        for count, stats in timings.items():
            entry[f"threads_{count}"] = stats
        for rung in ("masked_open", "dynamic_open", "dynamic"):
            logits = stack_outputs(outputs[rung])["logits"]
            entry["top1"][rung] = float(np.mean(logits.argmax(-1) == labels))
        results["models"][model_path] = entry
    os.makedirs(output_dir, exist_ok=True)
    with open(os.path.join(output_dir, "gate_overhead.json"), "w") as f:
        json.dump(results, f, indent=2)
    _plot(results, threads, os.path.join(output_dir, "gate_overhead.png"))
    return results


def _plot(results, threads, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lcnet_tf.export.overhead import RUNGS

    models = results["models"]
    fig, axes = plt.subplots(
        1, len(models), figsize=(5 * len(models), 4), squeeze=False
    )
    width = 0.8 / len(threads)
    for ax, (name, entry) in zip(axes[0], models.items()):
        for t, count in enumerate(threads):
            stats = entry[f"threads_{count}"]
            ax.bar(
                [r + t * width for r in range(len(RUNGS))],
                [stats[rung]["median_vs_static"] for rung in RUNGS],
                width,
                label=f"{count} thread(s)",
            )
        ax.axhline(1.0, color="gray", linestyle=":")
        ax.axhline(1.1, color="red", linestyle=":", label="1.10x goal")
        ax.set_xticks([r + 0.4 - width / 2 for r in range(len(RUNGS))])
        ax.set_xticklabels(RUNGS, rotation=30, fontsize=8)
        ax.set_ylabel("median latency vs static twin")
        ax.set_title(os.path.basename(name), fontsize=8)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv):
    del argv
    results = run_benchmark(
        FLAGS.gated_models,
        FLAGS.data_dir,
        FLAGS.examples,
        FLAGS.threads,
        FLAGS.output_dir,
        rounds=FLAGS.rounds,
    )
    for name, entry in results["models"].items():
        for key, stats in entry.items():
            if key.startswith("threads_"):
                ratios = {
                    rung: round(value["median_vs_static"], 3)
                    for rung, value in stats.items()
                }
                print(name, key, ratios)


if __name__ == "__main__":
    define_flags()
    app.run(main)
