"""Batch-1 TFLite latency: static ResNet vs dynamic and staged LC-ResNet.

One run, XNNPACK at 1 and 2 threads, over real CIFAR-10 test images,
every variant timed image by image in turn (so machine noise is shared);
`--taus` adds the dynamic form at other thresholds (a row's operating
points: does the knob move the milliseconds as it moves the FLOPs?);
writes `benchmarks/results/tflite_latency.json` and a plot. Run on a quiet
machine:

    python benchmarks/tflite_latency.py \
        --gated_model=runs/demo/model.keras --examples=1000 \
        --taus=0.45,0.4
"""

import json
import os
import tempfile

from absl import app
from absl import flags

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("gated_model", None, "Trained gated `.keras` model.")
    flags.DEFINE_string(
        "static_model",
        None,
        "Static `.keras` model of the same depth (default: a fresh one; "
        "latency does not depend on the weights).",
    )
    flags.DEFINE_string("data_dir", None, "CIFAR-10 binary folder.")
    flags.DEFINE_integer("examples", 1000, "Test images timed per variant.")
    flags.DEFINE_list("threads", ["1", "2"], "XNNPACK thread counts.")
    flags.DEFINE_list(
        "taus",
        [],
        "Other thresholds to time the dynamic form at (channels at "
        "planned widths where the model has channel gates), e.g. a "
        "row's operating points from `lcnet-evaluate --sweep`.",
    )
    flags.DEFINE_string(
        "output_dir", "benchmarks/results", "Where JSON and plot go."
    )


def _variants(gated, static, directory, calibration, taus=()):
    """Exports every variant; returns {name: (kind, path, network,
    channel_chunks)}."""
    from lcnet_tf.export import fold_model
    from lcnet_tf.export import to_tflite
    from lcnet_tf.export.channel_order import has_channel_gates
    from lcnet_tf.flops import gated_blocks
    from lcnet_tf.models import kept_thresholds
    from lcnet_tf.models import set_threshold

    variants = {}

    def add(name, model, form="dynamic", prefix=False):
        # `prefix`: channel gates run only the widths the calibration
        # images often need (a free gate's channels reordered first).
        export = to_tflite(
            model,
            os.path.join(directory, f"{name}.tflite"),
            form=form,
            channel_chunks="prefix" if prefix else None,
            representative_data=calibration if prefix else None,
        )
        if form == "staged":
            variants[name] = ("staged", export.manifest_path, None)
        else:
            variants[name] = ("model", export.path, fold_model(model))

    add("static", static)
    for form in ("dynamic", "masked", "staged"):
        add(form, gated, form)
    folded = fold_model(gated)
    if has_channel_gates(folded):
        add("dynamic_prefix", gated, prefix=True)
    if has_channel_gates(folded, free_only=True):
        # A nested gate's staged bodies need no plan.
        add("staged_prefix", gated, "staged", prefix=True)
    with kept_thresholds(gated):
        for tau in taus:
            set_threshold(gated, tau)
            if has_channel_gates(folded):
                add(f"dynamic_prefix_tau_{tau:g}", gated, prefix=True)
            else:
                add(f"dynamic_tau_{tau:g}", gated)
        set_threshold(gated, 0.0)
        add("dynamic_gates_open", gated)
        if has_channel_gates(folded):
            # Planned with every gate open: full widths, no width `IF`s.
            add("dynamic_prefix_gates_open", gated, prefix=True)
        if any(block.block_gate is not None for block in gated_blocks(gated)):
            set_threshold(gated, 1.0, kind="block")
            add("dynamic_blocks_closed", gated)
    return variants


def run_benchmark(
    gated_model,
    static_model,
    data_dir,
    examples,
    threads,
    output_dir,
    taus=(),
):
    """The benchmark as a library function; returns the results dict.

    `taus`: other thresholds to time the dynamic form at (variants
    `dynamic_prefix_tau_<tau>`, or `dynamic_tau_<tau>` without channel
    gates), each checked to be in [0, 1].
    """
    import numpy as np

    from lcnet_tf.data.cifar10 import cifar10_arrays
    from lcnet_tf.export import StagedRunner
    from lcnet_tf.export import TFLiteModel
    from lcnet_tf.export import executed_flops
    from lcnet_tf.export.channel_order import calibration_images
    from lcnet_tf.export.latency import measure_interleaved
    from lcnet_tf.export.latency import stack_outputs
    from lcnet_tf.flops import count_flops
    from lcnet_tf.flops import flops_per_image
    from lcnet_tf.layers.gate_head import check_threshold
    from lcnet_tf.models import cifar_resnet
    from lcnet_tf.models.saving import load_model

    taus = [check_threshold(tau) for tau in taus]
    gated = load_model(gated_model, compile=False)
    depth = int(gated.name.rsplit("resnet", 1)[-1] or 20)
    if static_model:
        static = load_model(static_model, compile=False)
    else:
        static = cifar_resnet(depth, gating="none")
    static_flops = count_flops(static, gates=False)
    images, labels = cifar10_arrays("test", data_dir, num_examples=examples)
    keras_flops = flops_per_image(gated, images)
    results = {
        "gated_model": gated_model,
        "static_model": static_model or f"fresh resnet{depth}",
        "images": int(len(images)),
        "static_flops": int(static_flops),
        "keras_mean_flops_ratio": float(keras_flops.mean() / static_flops),
        "variants": {},
    }
    with tempfile.TemporaryDirectory() as directory:
        calibration = calibration_images(data_dir)
        variants = _variants(gated, static, directory, calibration, taus)
        entries = {name: {} for name in variants}
        for count in threads:
            runners = {}
            for name, (kind, path, _) in variants.items():
                if kind == "staged":
                    runners[name] = StagedRunner(
                        path, accelerator="cpu", num_threads=count
                    )
                else:
                    runners[name] = TFLiteModel(path, num_threads=count)
            stats, outputs = measure_interleaved(runners, images)
            for name in variants:
                entries[name][f"threads_{count}"] = stats[name]
        for name, (kind, _, network) in variants.items():
            entry = entries[name]
            result = stack_outputs(outputs[name])
            if kind == "staged":
                flops = result["flops"]
            elif "chunks" in result:
                flops = executed_flops(
                    network,
                    result["decisions"],
                    result["chunks"],
                    "prefix" if name.startswith("dynamic_prefix") else None,
                )
            else:
                flops = np.full(len(images), network.static_flops)
            entry["mean_flops"] = float(np.mean(flops))
            entry["flops_ratio"] = float(np.mean(flops) / static_flops)
            entry["top1"] = float(
                np.mean(result["logits"].argmax(-1) == labels)
            )
            results["variants"][name] = entry
    for entry in results["variants"].values():
        for count in threads:
            key = f"threads_{count}"
            static = results["variants"]["static"][key]
            base = static["mean_ms"]
            entry[key]["latency_vs_static"] = entry[key]["mean_ms"] / base
            # At 2 threads on a 2-core machine the host's scheduling moves
            # the mean more than the median (benchmarks/gate_overhead.py).
            entry[key]["median_vs_static"] = (
                entry[key]["median_ms"] / static["median_ms"]
            )
            speedup = base / entry[key]["mean_ms"]
            entry[key]["speedup"] = speedup
            entry[key]["speedup_per_flops_reduction"] = (
                speedup * (entry["flops_ratio"])
            )
    os.makedirs(output_dir, exist_ok=True)
    with open(os.path.join(output_dir, "tflite_latency.json"), "w") as f:
        json.dump(results, f, indent=2)
    _plot(results, threads, os.path.join(output_dir, "tflite_latency.png"))
    return results


def _plot(results, threads, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names = list(results["variants"])
    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.8 / len(threads)
    for i, count in enumerate(threads):
        values = [
            results["variants"][n][f"threads_{count}"]["mean_ms"] for n in names
        ]
        ax.bar(
            np.arange(len(names)) + i * width,
            values,
            width,
            label=f"{count} thread(s)",
        )
    labels = [
        f"{n}\nFLOPs x{results['variants'][n]['flops_ratio']:.2f}"
        for n in names
    ]
    ax.set_xticks(np.arange(len(names)) + width * (len(threads) - 1) / 2)
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_ylabel("batch-1 latency, mean ms")
    ax.set_title(
        f"TFLite XNNPACK, {results['images']} CIFAR-10 test images (one run)"
    )
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv):
    del argv
    if not FLAGS.gated_model:
        raise app.UsageError("--gated_model is required.")
    results = run_benchmark(
        FLAGS.gated_model,
        FLAGS.static_model,
        FLAGS.data_dir,
        FLAGS.examples,
        [int(t) for t in FLAGS.threads],
        FLAGS.output_dir,
        FLAGS.taus,
    )
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    define_flags()
    app.run(main)
