"""Do LiteRT's interpreter switches speed up a gated export?

`ai_edge_litert`'s `Interpreter` has switches that change how a graph
runs but not what it computes (`INTERPRETER_OPTIONS`: how XNNPACK
partitions the graph, which of its features it uses, whether a
conditional keeps its branch's memory between runs). For each gated
model this exports the dynamic form with its own routing and with every
gate open, beside the static network, loads each once with the defaults
and once per switch, and times them all batch 1 on real CIFAR-10 test
images, turns interleaved, at each thread count. Latency is against the
static network with the defaults in the same run; every switch is also
checked to give the same logits. Writes `interpreter_options.json` and
a plot. Run on a quiet machine:

    python benchmarks/interpreter_options.py \
        --gated_models=pretrained/lc_resnet20_t65_e10_r5_cifar10.keras \
        --static_model=runs/cifar10_dynamic/resnet20_static/model.keras \
        --data_dir=../shared/data/cifar10 --examples=300
"""

import json
import os
import tempfile

from absl import app
from absl import flags

FLAGS = flags.FLAGS

DEFAULTS = "defaults"


def define_flags():
    flags.DEFINE_list("gated_models", [], "Trained gated `.keras` models.")
    flags.DEFINE_string(
        "static_model", None, "Static `.keras` model (default: a fresh one)."
    )
    flags.DEFINE_string("data_dir", None, "CIFAR-10 binary folder.")
    flags.DEFINE_integer("examples", 300, "Test images per variant.")
    flags.DEFINE_list("threads", ["1", "2"], "XNNPACK thread counts.")
    flags.DEFINE_list("options", None, "Switches to time (default: every one).")
    flags.DEFINE_string(
        "output_dir", "benchmarks/results", "Where JSON and plot go."
    )


def run_benchmark(
    gated_models,
    static_model,
    data_dir,
    examples,
    threads,
    output_dir,
    options=None,
):
    """The benchmark as a library function; returns the results dict.

    `results["ratios"][threads][option][variant]` is the variant's mean
    latency over the static network's with the defaults, in that run.
    """
    import numpy as np

    from lcnet_tf.data.cifar10 import cifar10_arrays
    from lcnet_tf.export import TFLiteModel
    from lcnet_tf.export.interpreter import INTERPRETER_OPTIONS
    from lcnet_tf.export.interpreter import check_interpreter_options
    from lcnet_tf.export.latency import export_variants
    from lcnet_tf.export.latency import measure_interleaved
    from lcnet_tf.export.latency import stack_outputs

    options = list(INTERPRETER_OPTIONS if options is None else options)
    check_interpreter_options({name: True for name in options})
    settings = {DEFAULTS: {}} | {name: {name: True} for name in options}
    images, _ = cifar10_arrays("test", data_dir, num_examples=examples)
    results = {
        "static_model": static_model or "fresh resnet",
        "gated_models": list(gated_models),
        "images": int(len(images)),
        "options": options,
        "ratios": {},
        "mean_ms": {},
        "same_logits": {},
    }
    with tempfile.TemporaryDirectory() as directory:
        paths = export_variants(gated_models, static_model, directory)
        for count in threads:
            runners = {
                f"{option} | {name}": TFLiteModel(
                    path, num_threads=count, interpreter_options=setting
                )
                for option, setting in settings.items()
                for name, path in paths.items()
            }
            stats, outputs = measure_interleaved(runners, images)
            logits = {
                key: stack_outputs(value)["logits"]
                for key, value in outputs.items()
            }
            base = stats[f"{DEFAULTS} | static"]["mean_ms"]
            key = str(count)
            results["mean_ms"][key] = {
                option: {n: stats[f"{option} | {n}"]["mean_ms"] for n in paths}
                for option in settings
            }
            results["ratios"][key] = {
                option: {n: ms / base for n, ms in by_name.items()}
                for option, by_name in results["mean_ms"][key].items()
            }
            results["same_logits"][key] = {
                option: all(
                    np.allclose(
                        logits[f"{option} | {n}"],
                        logits[f"{DEFAULTS} | {n}"],
                        atol=1e-4,
                    )
                    for n in paths
                )
                for option in settings
            }
    os.makedirs(output_dir, exist_ok=True)
    with open(os.path.join(output_dir, "interpreter_options.json"), "w") as f:
        json.dump(results, f, indent=2)
    _plot(results, os.path.join(output_dir, "interpreter_options.png"))
    return results


def _plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    counts = list(results["ratios"])
    fig, axes = plt.subplots(
        1, len(counts), figsize=(7.5 * len(counts), 4), squeeze=False
    )
    for ax, count in zip(axes[0], counts):
        by_option = results["ratios"][count]
        names = list(next(iter(by_option.values())))
        width = 0.8 / len(by_option)
        for i, (option, ratios) in enumerate(by_option.items()):
            label = option.replace("experimental_", "")
            ax.bar(
                np.arange(len(names)) + i * width,
                [ratios[n] for n in names],
                width,
                label=label,
            )
        ax.axhline(1.0, color="gray", linewidth=0.8)
        ax.set_xticks(np.arange(len(names)) + 0.4 - width / 2)
        ax.set_xticklabels(
            [n.replace("_resnet20_", " ").replace(", ", "\n") for n in names],
            fontsize=7,
        )
        ax.set_ylabel("latency / static network's (defaults)")
        ax.set_title(
            f"{count} thread(s), {results['images']} test images (one run)"
        )
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv):
    del argv
    if not FLAGS.gated_models:
        raise app.UsageError("--gated_models is required.")
    results = run_benchmark(
        FLAGS.gated_models,
        FLAGS.static_model,
        FLAGS.data_dir,
        FLAGS.examples,
        [int(t) for t in FLAGS.threads],
        FLAGS.output_dir,
        FLAGS.options,
    )
    for count, by_option in results["ratios"].items():
        for option, ratios in by_option.items():
            same = results["same_logits"][count][option]
            for name, ratio in ratios.items():
                print(
                    f"{count} thread(s) {option:46s} {name:45s} "
                    f"{ratio:.3f}" + ("" if same else " (logits differ)")
                )


if __name__ == "__main__":
    define_flags()
    app.run(main)
