"""Does nested channel selection save time where free selection does not?

An LC-ResNet-20 with every block gate open and every C-Net gate set to
keep the same share of its channel groups (the same FLOPs either way):
with `selection="free"` the kept groups are spread out (every other
group), with `selection="nested"` they are the first ones. Both go
through the dynamic TFLite form and are timed against the static
ResNet-20 (same weights) in one run, taking turns over the same real
test images, batch 1, XNNPACK. Free selection can only mask; nested
runs a narrower convolution. The nested model also goes through the
staged form (the host runs each block's body of exactly the kept
width, as the Android runner does), timed against the static network
through the same staged protocol, so both pay the same per-call
overhead. The nested widths are also exported as the static network
they are (`prune=True`): what those FLOPs cost without any gating, the
limit a dynamic form can approach. Writes
`benchmarks/results/nested_channels.json` and a plot
(`nested_channels_2threads.json` with `--threads=2`):

    python benchmarks/nested_channels.py --data_dir=../shared/data/cifar10
"""

import json
import os
import tempfile

from absl import app
from absl import flags

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("data_dir", None, "CIFAR-10 binary folder.")
    flags.DEFINE_integer("examples", 200, "Test images timed per variant.")
    flags.DEFINE_list("keep", ["1.0", "0.75", "0.5", "0.25"], "Kept shares.")
    flags.DEFINE_integer("threads", 1, "XNNPACK threads.")
    flags.DEFINE_integer(
        "groups", 8, "Channels per C-Net group (the nested rows' groups)."
    )
    flags.DEFINE_string(
        "output_dir", "benchmarks/results", "Where JSON and plot go."
    )


def _fix_channel_gates(model, keep, spread):
    """Every block runs and every C-Net gate keeps `keep` of its groups,
    whatever the image (`freeze_routing`, unit scales)."""
    import numpy as np

    from lcnet_tf.flops import gated_blocks
    from lcnet_tf.training import freeze_routing

    routing = {}
    for block in gated_blocks(model):
        units = block.channel_gate.units
        count = int(round(keep * units))
        if spread:
            order = np.argsort((np.arange(units) * 7919) % units)
            chosen = np.zeros(units, np.int8)
            chosen[order[:count]] = 1
        else:
            chosen = (np.arange(units) < count).astype(np.int8)
        routing[block.name] = {"run": 1, "channels": chosen}
    freeze_routing(model, routing, unit_scales=True)


def run_benchmark(
    data_dir, examples, keeps, threads, output_dir, groups=8, depth=20
):
    """The benchmark as a library function; returns the results dict.

    `depth` is the CIFAR ResNet's (20 for the published figures; the
    tests use 8, whose fewer blocks convert faster).
    """
    from lcnet_tf.data.cifar10 import cifar10_arrays
    from lcnet_tf.export import TFLiteModel
    from lcnet_tf.export import to_tflite
    from lcnet_tf.export.latency import measure_interleaved
    from lcnet_tf.flops import count_flops
    from lcnet_tf.flops import flops_per_image
    from lcnet_tf.models import cifar_resnet
    from lcnet_tf.models import init_from_static

    images, _ = cifar10_arrays("test", data_dir, examples)
    static = cifar_resnet(depth)
    models = {}
    for selection in ("free", "nested"):
        model = cifar_resnet(
            depth,
            gating="lc",
            channel_groups=groups,
            channel_selection=selection,
        )
        # Same convolution weights as the static network.
        init_from_static(model, static)
        models[selection] = model
    results = {
        "examples": examples,
        "threads": threads,
        "groups": groups,
        "depth": depth,
        "points": [],
    }
    with tempfile.TemporaryDirectory() as directory:
        static_path = os.path.join(directory, "static.tflite")
        to_tflite(static, static_path, "dynamic")
        runners = {"static": TFLiteModel(static_path, num_threads=threads)}
        staged_static = to_tflite(
            static, os.path.join(directory, "static_staged.tflite"), "staged"
        )
        runners["staged-static"] = _staged(staged_static, threads)
        ratios = {}
        for keep in keeps:
            for selection, model in models.items():
                _fix_channel_gates(model, keep, spread=selection == "free")
                name = f"{selection}@{keep:g}"
                path = os.path.join(directory, f"{name}.tflite")
                to_tflite(model, path, "dynamic")
                runners[name] = TFLiteModel(path, num_threads=threads)
                ratios[name] = float(
                    flops_per_image(model, images[:1])[0] / count_flops(static)
                )
                if selection == "nested":
                    # The same widths as a static network: what no
                    # gating at all costs at these FLOPs.
                    pruned = os.path.join(directory, f"pruned@{keep:g}.tflite")
                    to_tflite(model, pruned, "dynamic", prune=True)
                    runners[f"pruned@{keep:g}"] = TFLiteModel(
                        pruned, num_threads=threads
                    )
                    ratios[f"pruned@{keep:g}"] = ratios[name]
                    staged = to_tflite(
                        model,
                        path.replace(".tflite", "_staged.tflite"),
                        "staged",
                    )
                    runners[f"staged-{name}"] = _staged(staged, threads)
                    ratios[f"staged-{name}"] = ratios[name]
        stats, _ = measure_interleaved(runners, images, rounds=5)
    static_ms = stats["static"]["mean_ms"]
    for name, flops_ratio in ratios.items():
        selection, keep = name.split("@")
        reference = (
            "staged-static" if selection.startswith("staged") else "static"
        )
        results["points"].append(
            {
                "selection": selection,
                "keep": float(keep),
                "flops_ratio": flops_ratio,
                "mean_ms": stats[name]["mean_ms"],
                "latency_ratio": stats[name]["mean_ms"]
                / stats[reference]["mean_ms"],
            }
        )
    results["static_ms"] = static_ms
    results["staged_static_ms"] = stats["staged-static"]["mean_ms"]
    os.makedirs(output_dir, exist_ok=True)
    stem = "nested_channels" + ("" if threads == 1 else f"_{threads}threads")
    with open(os.path.join(output_dir, f"{stem}.json"), "w") as f:
        json.dump(results, f, indent=2)
    _plot(results, os.path.join(output_dir, f"{stem}.png"))
    return results


def _staged(export, threads):
    from lcnet_tf.export import StagedRunner

    return StagedRunner(
        export.manifest_path, accelerator="cpu", num_threads=threads
    )


def _plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5.5, 4.5))
    labels = {
        "free": "free selection, dynamic form",
        "nested": "nested selection, dynamic form",
        "pruned": "the same widths as a static pruned network",
        "staged-nested": "nested selection, staged form (vs staged static)",
    }
    for selection, label in labels.items():
        points = [p for p in results["points"] if p["selection"] == selection]
        axis.plot(
            [p["flops_ratio"] for p in points],
            [p["latency_ratio"] for p in points],
            marker="o",
            label=label,
        )
    axis.plot([0, 1.05], [0, 1.05], color="gray", linewidth=0.8)
    axis.set_xlabel(f"FLOPs ratio (vs static ResNet-{results['depth']})")
    axis.set_ylabel("latency ratio (vs static, same form)")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    run_benchmark(
        FLAGS.data_dir,
        FLAGS.examples,
        [float(k) for k in FLAGS.keep],
        FLAGS.threads,
        FLAGS.output_dir,
        FLAGS.groups,
    )


if __name__ == "__main__":
    define_flags()
    app.run(main)
