"""Batch-1 latency of a frozen routing with per-image scales.

A frozen routing whose learned scales still depend on the image
(`TrainConfig(freeze_routing_scales="learned")`) exports pruned, its
scales kept as small heads (`prune_network`), or, as before, in the
dynamic form with every gate. This times both beside the same routing
with constant scales (pruned), a static network of about the same
FLOPs, the static ResNet-20 and, optionally, a gated model that
routes per image (its dynamic form, channels masked and at planned
widths, and at planned widths at other thresholds: its operating
points), in one interleaved run per thread count, on real CIFAR-10
test images; it also reports each export's top-1 and Keras FLOPs
ratio on those images and its agreement with Keras. Writes
`benchmarks/results/frozen_scales.json` and a plot. Run on a quiet
machine:

    python benchmarks/frozen_scales.py --data_dir=../shared/data/cifar10
"""

import json
import os
import tempfile

from absl import app
from absl import flags

FLAGS = flags.FLAGS

_PUBLISHED = "pretrained/{}_cifar10.keras"


def define_flags():
    flags.DEFINE_string(
        "static_model",
        _PUBLISHED.format("resnet20_static_ft_e10"),
        "The static ResNet-20 every ratio is against.",
    )
    flags.DEFINE_string(
        "baseline_model",
        _PUBLISHED.format("resnet14_static_e40"),
        "A static network of about the frozen routing's FLOPs.",
    )
    flags.DEFINE_string(
        "frozen_model",
        _PUBLISHED.format("lc_resnet20_t65_e10_r12_nested16_frozen_train"),
        "The frozen routing with constant scales.",
    )
    flags.DEFINE_string(
        "scaled_model",
        _PUBLISHED.format(
            "lc_resnet20_t65_e10_r12_nested16_frozen_train_scaled"
        ),
        "The same routing with scales learned per image ('' to leave "
        "it out, e.g. for a row that has no such twin).",
    )
    flags.DEFINE_string(
        "gated_model",
        None,
        "Optional: a gated model that routes per image, timed in its "
        "dynamic form beside the others (e.g. recipe 13's row).",
    )
    flags.DEFINE_list(
        "gated_taus",
        [],
        "Thresholds to time --gated_model at too (channels at planned "
        "widths), e.g. the operating point at the frozen row's FLOPs.",
    )
    flags.DEFINE_string("data_dir", None, "CIFAR-10 binary folder.")
    flags.DEFINE_integer("examples", 1000, "Test images timed per variant.")
    flags.DEFINE_list("threads", ["1", "2"], "XNNPACK thread counts.")
    flags.DEFINE_string(
        "output_dir", "benchmarks/results", "Where JSON and plot go."
    )


# name: (which model, pruned export, channel chunks); a gated variant at
# another threshold adds it as a fourth item.
VARIANTS = {
    "static": ("static", False, None),
    "baseline": ("baseline", False, None),
    "frozen_pruned": ("frozen", True, None),
    "scaled_dynamic": ("scaled", False, None),
    "scaled_pruned": ("scaled", True, None),
}
# Timed only when `models` has a `gated` model: its dynamic form with
# channels masked, and with each channel gate run at a planned width
# (free gates' channels reordered on training images), which is what
# turns a free channel gate's FLOPs into time.
GATED_VARIANTS = {
    "gated_dynamic": ("gated", False, None),
    "gated_prefix": ("gated", False, "prefix"),
}


def run_benchmark(
    models, data_dir, examples, threads, output_dir, gated_taus=()
):
    """Exports and times every variant; writes JSON and a plot.

    Args:
        models: dict with `.keras` paths under `static`, `baseline` and
            `frozen`, and optionally `scaled` and `gated`; a variant of
            a model not given is left out.
        data_dir: CIFAR-10 binary folder.
        examples: int. Test images, timed and scored per variant.
        threads: ints. XNNPACK thread counts, one timed run each.
        output_dir: where `frozen_scales.json` and `.png` go.
        gated_taus: thresholds in [0, 1] to time the `gated` model at
            too, channels at planned widths (`gated_prefix_tau_<tau>`).

    Returns:
        The dict written: `images`, `variants` (per variant: `top1`,
        `keras_agreement`, `keras_flops_ratio` against `static`,
        `bytes`) and `latency` (per thread count, per variant: `mean_ms`
        and `ratio` against `static`).
    """
    import numpy as np

    from lcnet_tf.data.cifar10 import cifar10_arrays
    from lcnet_tf.export import TFLiteModel
    from lcnet_tf.export import to_tflite
    from lcnet_tf.export.channel_order import calibration_images
    from lcnet_tf.export.latency import measure_interleaved
    from lcnet_tf.flops import batches_with_flops
    from lcnet_tf.flops import count_flops
    from lcnet_tf.layers.gate_head import check_threshold
    from lcnet_tf.models import kept_thresholds
    from lcnet_tf.models import set_threshold
    from lcnet_tf.models.saving import load_model

    gated_taus = [check_threshold(tau) for tau in gated_taus]
    images, labels = cifar10_arrays("test", data_dir, num_examples=examples)
    chosen = {
        name: variant
        for name, variant in dict(VARIANTS, **GATED_VARIANTS).items()
        if variant[0] in models
    }
    if "gated" in models:
        for tau in gated_taus:
            chosen[f"gated_prefix_tau_{tau:g}"] = (
                "gated",
                False,
                "prefix",
                tau,
            )
    loaded = {
        variant[0]: load_model(models[variant[0]], compile=False)
        for variant in chosen.values()
    }
    static_flops = count_flops(loaded["static"], gates=False)
    keras_runs = {}

    def keras_run(source, tau):
        # Once per model and threshold: two variants export the same one.
        if (source, tau) not in keras_runs:
            logits, flops = [], []
            for out in batches_with_flops(loaded[source], [images]):
                logits.append(out["logits"])
                flops.append(out["flops"])
            keras_runs[source, tau] = (
                np.argmax(np.concatenate(logits), -1),
                float(np.concatenate(flops).mean() / static_flops),
            )
        return keras_runs[source, tau]

    results = {"images": int(len(images)), "models": dict(models)}
    variants, paths = {}, {}
    with tempfile.TemporaryDirectory() as directory:
        for name, (source, prune, chunks, *tau) in chosen.items():
            tau = tau[0] if tau else None
            paths[name] = os.path.join(directory, f"{name}.tflite")
            with kept_thresholds(loaded[source]):
                if tau is not None:
                    set_threshold(loaded[source], tau)
                predictions, flops_ratio = keras_run(source, tau)
                export = to_tflite(
                    loaded[source],
                    paths[name],
                    form="dynamic",
                    prune=prune,
                    channel_chunks=chunks,
                    representative_data=(
                        calibration_images(data_dir) if chunks else None
                    ),
                )
            runner = TFLiteModel(export.path)
            lite = np.array(
                [np.argmax(runner(image[None])["logits"]) for image in images]
            )
            variants[name] = {
                "model": source,
                "pruned": prune,
                "channel_chunks": chunks,
                "tau": tau,
                "top1": float(np.mean(lite == labels)),
                "keras_agreement": float(np.mean(lite == predictions)),
                "keras_flops_ratio": flops_ratio,
                "bytes": export.size_bytes,
            }
            print(name, json.dumps(variants[name]), flush=True)
        latency = {}
        for count in threads:
            runners = {
                name: TFLiteModel(path, num_threads=int(count))
                for name, path in paths.items()
            }
            stats, _ = measure_interleaved(
                runners, images, warmup=min(20, len(images)), rounds=10
            )
            static_ms = stats["static"]["mean_ms"]
            latency[str(count)] = {
                name: {
                    "mean_ms": stat["mean_ms"],
                    "ratio": stat["mean_ms"] / static_ms,
                }
                for name, stat in stats.items()
            }
            print(count, json.dumps(latency[str(count)]), flush=True)
    results["variants"] = variants
    results["latency"] = latency
    os.makedirs(output_dir, exist_ok=True)
    with open(os.path.join(output_dir, "frozen_scales.json"), "w") as f:
        json.dump(results, f, indent=2)
    _plot(latency, list(chosen), os.path.join(output_dir, "frozen_scales.png"))
    return results


def _plot(latency, names, path):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axis = pyplot.subplots(figsize=(7, 3.5))
    width = 0.8 / max(len(latency), 1)
    for i, (count, ratios) in enumerate(latency.items()):
        axis.bar(
            [j + i * width for j in range(len(names))],
            [ratios[name]["ratio"] for name in names],
            width,
            label=f"{count} thread(s)",
        )
    axis.set_xticks(
        [j + width * (len(latency) - 1) / 2 for j in range(len(names))]
    )
    axis.set_xticklabels(names, rotation=15)
    axis.set_ylabel("latency / static ResNet-20")
    axis.axhline(1.0, color="gray", linewidth=0.5)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    pyplot.close(figure)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    models = {
        "static": FLAGS.static_model,
        "baseline": FLAGS.baseline_model,
        "frozen": FLAGS.frozen_model,
    }
    if FLAGS.scaled_model:
        models["scaled"] = FLAGS.scaled_model
    if FLAGS.gated_model:
        models["gated"] = FLAGS.gated_model
    run_benchmark(
        models,
        FLAGS.data_dir,
        FLAGS.examples,
        [int(count) for count in FLAGS.threads],
        FLAGS.output_dir,
        FLAGS.gated_taus,
    )


if __name__ == "__main__":
    define_flags()
    app.run(main)
