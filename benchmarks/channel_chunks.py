"""Does skipping channels save time? C-gated dynamic form vs chunk count.

The dynamic TFLite form puts each channel chunk of a C-gated block under
its own conditional; with one chunk (the default) a block's kept channels
all run and the skipped ones are multiplied by zero. This benchmark times
one trained C-/LC-Net's dynamic form at several chunk counts against the
static network, batch 1, in one run (every variant takes turns over the
same real CIFAR-10 test images), and records what each form executes.
Writes `benchmarks/results/channel_chunks.json` and a plot:

    python benchmarks/channel_chunks.py \
        --gated_model=pretrained/c_resnet20_t30_cifar10.keras \
        --data_dir=../shared/data/cifar10 --examples=500
"""

import json
import os
import tempfile

from absl import app
from absl import flags

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("gated_model", None, "Trained C- or LC-Net model.")
    flags.DEFINE_string("data_dir", None, "CIFAR-10 binary folder.")
    flags.DEFINE_integer("examples", 500, "Test images timed per variant.")
    flags.DEFINE_list(
        "chunks",
        ["1", "2", "4", "groups", "prefix"],
        "Channel chunk counts to time ('prefix': channels reordered by "
        "how often 500 training images keep them, run up to the last "
        "kept one).",
    )
    flags.DEFINE_integer("threads", 1, "XNNPACK threads.")
    flags.DEFINE_string(
        "output_dir", "benchmarks/results", "Where JSON and plot go."
    )


def _chunks(value):
    return value if value in ("groups", "prefix") else int(value)


def run_benchmark(gated_model, data_dir, examples, chunks, threads, output):
    """The benchmark as a library function; returns the results dict.

    Args:
        gated_model: str. A trained `.keras` model with C-Net gates.
        data_dir: str. CIFAR-10 binaries.
        examples: int. Test images timed per variant.
        chunks: list of chunk counts (int or `"groups"`).
        threads: int. XNNPACK threads.
        output: str. Folder of the JSON file and the plot.

    Returns:
        dict with, per variant, `mean_ms`, `latency_vs_static`,
        `executed_flops_ratio` and `top1`.
    """
    import numpy as np

    from lcnet_tf.data.cifar10 import cifar10_arrays
    from lcnet_tf.export import TFLiteModel
    from lcnet_tf.export import executed_flops
    from lcnet_tf.export import fold_model
    from lcnet_tf.export import to_tflite
    from lcnet_tf.export.channel_order import calibration_images
    from lcnet_tf.export.latency import measure_interleaved
    from lcnet_tf.export.latency import stack_outputs
    from lcnet_tf.flops import count_flops
    from lcnet_tf.flops import flops_per_image
    from lcnet_tf.models import cifar_resnet
    from lcnet_tf.models.saving import load_model

    gated = load_model(gated_model, compile=False)
    depth = int(gated.name.rsplit("resnet", 1)[-1])
    static = cifar_resnet(depth, gating="none")
    static_flops = count_flops(static, gates=False)
    images, labels = cifar10_arrays("test", data_dir, num_examples=examples)
    calibration = None
    if "prefix" in chunks:
        calibration = calibration_images(data_dir)
    results = {
        "gated_model": gated_model,
        "images": int(len(images)),
        "threads": int(threads),
        "decided_flops_ratio": float(
            flops_per_image(gated, images).mean() / static_flops
        ),
        "variants": {},
    }
    with tempfile.TemporaryDirectory() as directory:
        paths = {"static": os.path.join(directory, "static.tflite")}
        to_tflite(static, paths["static"], form="dynamic")
        for count in chunks:
            paths[f"chunks_{count}"] = os.path.join(
                directory, f"chunks_{count}.tflite"
            )
            to_tflite(
                gated,
                paths[f"chunks_{count}"],
                form="dynamic",
                channel_chunks=_chunks(count),
                representative_data=calibration,
            )
        runners = {
            name: TFLiteModel(path, num_threads=threads)
            for name, path in paths.items()
        }
        stats, outputs = measure_interleaved(runners, images)
    network = fold_model(gated)
    for name in paths:
        result = stack_outputs(outputs[name])
        if name == "static":
            flops = np.full(len(images), static_flops)
        else:
            count = _chunks(name.split("_", 1)[1])
            flops = executed_flops(
                network, result["decisions"], result["chunks"], count
            )
        results["variants"][name] = {
            "mean_ms": stats[name]["mean_ms"],
            "latency_vs_static": stats[name]["mean_ms"]
            / stats["static"]["mean_ms"],
            "executed_flops_ratio": float(np.mean(flops) / static_flops),
            # The static network is a fresh one (latency does not depend
            # on the weights): its top-1 means nothing.
            "top1": None
            if name == "static"
            else float(np.mean(result["logits"].argmax(-1) == labels)),
        }
    os.makedirs(output, exist_ok=True)
    with open(os.path.join(output, "channel_chunks.json"), "w") as f:
        json.dump(results, f, indent=2)
    _plot(results, os.path.join(output, "channel_chunks.png"))
    return results


def _plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results["variants"])
    variants = results["variants"]
    figure, axes = plt.subplots(figsize=(7, 4))
    axes.bar(
        range(len(names)),
        [variants[n]["latency_vs_static"] for n in names],
        color="tab:blue",
        label="latency / static",
    )
    axes.plot(
        range(len(names)),
        [variants[n]["executed_flops_ratio"] for n in names],
        "o",
        color="tab:red",
        label="executed FLOPs / static",
    )
    axes.axhline(
        results["decided_flops_ratio"],
        color="tab:red",
        ls=":",
        label="FLOPs the decisions need",
    )
    axes.set_xticks(range(len(names)))
    axes.set_xticklabels(names, fontsize=8)
    axes.set_ylabel("ratio to the static network")
    axes.set_title(
        f"{os.path.basename(results['gated_model'])}: dynamic form, batch 1,"
        f" {results['threads']} thread(s), {results['images']} images",
        fontsize=9,
    )
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv):
    del argv
    if not FLAGS.gated_model:
        raise app.UsageError("--gated_model is required.")
    results = run_benchmark(
        FLAGS.gated_model,
        FLAGS.data_dir,
        FLAGS.examples,
        FLAGS.chunks,
        FLAGS.threads,
        FLAGS.output_dir,
    )
    print(json.dumps(results["variants"], indent=2))


if __name__ == "__main__":
    define_flags()
    app.run(main)
