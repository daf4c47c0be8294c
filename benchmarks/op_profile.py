"""Where a gated model's time goes, op by op, against the static one.

Exports the static model and, for each gated model, its dynamic form
with its own routing and with every gate open; times them all batch 1
on real CIFAR-10 test images (1 thread, turns interleaved, unprofiled)
and profiles each op by op with LiteRT's profiler
(`lcnet_tf.export.op_profile`). Each variant's time splits into XNNPACK
kernels by type and the rest (the interpreter's own ops: `IF`, its
conditions, branch allocation, moving tensors between partitions), the
unprofiled latency minus the kernels; and what one `IF` costs by the
size of the feature map it carries, at 1 and 2 threads (`if_cost`).
Writes `op_profile.json` and a stacked-bar plot. Run on a quiet machine:

    python benchmarks/op_profile.py \
        --gated_models=pretrained/lc_resnet20_t50_e10_r3_cifar10.keras \
        --static_model=runs/cifar10_dynamic/resnet20_static/model.keras \
        --data_dir=../shared/data/cifar10
"""

import json
import os
import tempfile

from absl import app
from absl import flags

FLAGS = flags.FLAGS

CONVOLUTION = "Convolution (NHWC, F32) IGEMM"


def define_flags():
    flags.DEFINE_list("gated_models", [], "Trained gated `.keras` models.")
    flags.DEFINE_string(
        "static_model", None, "Static `.keras` model (default: a fresh one)."
    )
    flags.DEFINE_string("data_dir", None, "CIFAR-10 binary folder.")
    flags.DEFINE_integer("examples", 200, "Test images per variant.")
    flags.DEFINE_string(
        "output_dir", "benchmarks/results", "Where JSON and plot go."
    )


def run_benchmark(gated_models, static_model, data_dir, examples, output_dir):
    """The benchmark as a library function; returns the results dict."""
    from lcnet_tf.data.cifar10 import cifar10_arrays
    from lcnet_tf.export import TFLiteModel
    from lcnet_tf.export.latency import export_variants
    from lcnet_tf.export.latency import measure_interleaved
    from lcnet_tf.export.op_profile import profile_ops

    images, _ = cifar10_arrays("test", data_dir, num_examples=examples)
    results = {
        "static_model": static_model or "fresh resnet20",
        "images": int(len(images)),
        "threads": 1,
        "variants": {},
    }
    with tempfile.TemporaryDirectory() as directory:
        paths = export_variants(gated_models, static_model, directory)
        runners = {
            name: TFLiteModel(path, num_threads=1)
            for name, path in paths.items()
        }
        stats, _ = measure_interleaved(runners, images)
        for name, path in paths.items():
            profile = profile_ops(path, images)
            wall_us = stats[name]["mean_ms"] * 1e3
            results["variants"][name] = {
                "latency_us": wall_us,
                "kernel_us": profile.kernel_us,
                "kernel_calls": profile.kernel_calls,
                "convolution_us": profile.kernel_us.get(CONVOLUTION, 0.0),
                "other_kernels_us": profile.total_kernel_us
                - profile.kernel_us.get(CONVOLUTION, 0.0),
                "runtime_us": wall_us - profile.total_kernel_us,
                "interpreter_calls": profile.interpreter_calls,
                "branch_allocations": profile.branch_allocations,
                "profiled_us": profile.profiled_us,
            }
    # At 2 threads XNNPACK splits even a small map's elementwise ops
    # between the cores, and each partition an `IF` starts hands work to
    # the second thread again: both cost more than at 1 thread.
    results["if_cost"] = [
        cost for threads in (1, 2) for cost in if_cost(threads=threads)
    ]
    base = results["variants"]["static"]
    for entry in results["variants"].values():
        entry["latency_vs_static"] = entry["latency_us"] / base["latency_us"]
        entry["extra_us"] = {
            key: entry[key] - base[key]
            for key in ("convolution_us", "other_kernels_us", "runtime_us")
        }
    os.makedirs(output_dir, exist_ok=True)
    with open(os.path.join(output_dir, "op_profile.json"), "w") as f:
        json.dump(results, f, indent=2)
    _plot(results, os.path.join(output_dir, "op_profile.png"))
    return results


def if_cost(
    shapes=((32, 32, 16), (16, 16, 32), (8, 8, 64)), count=7, threads=1
):
    """What one TFLite `IF` costs, by the size of the tensor it carries.

    Times a chain of `count` cheap delegated ops (multiply-add, ReLU) on
    a `(1, *shape)` tensor with and without an always-taken `IF` around
    each, at `threads` XNNPACK threads, best of 5 rounds of 2,000 calls.

    Returns:
        list of dicts: `shape`, `kilobytes`, `threads`, `plain_us`,
        `with_if_us` and `per_if_us`.
    """
    import time

    import numpy as np
    import tensorflow as tf

    from lcnet_tf.export.interpreter import load_interpreter

    def chain(shape, conditional):
        spec = tf.TensorSpec([1, *shape], tf.float32)

        @tf.function(input_signature=[spec])
        def run(x):
            for _ in range(count):
                step = lambda x=x: tf.nn.relu(x * 1.01 + 0.1)  # noqa: E731
                if conditional:
                    x = tf.cond(tf.reduce_mean(x) > -1e9, step, lambda x=x: x)
                else:
                    x = step()
                x = tf.ensure_shape(x, [1, *shape])
            return x

        converter = tf.lite.TFLiteConverter.from_concrete_functions(
            [run.get_concrete_function()], run
        )
        with tempfile.NamedTemporaryFile(suffix=".tflite") as f:
            f.write(converter.convert())
            f.flush()
            interpreter = load_interpreter(f.name, num_threads=threads)
        x = np.random.default_rng(0).random((1, *shape), np.float32)
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
        for _ in range(200):
            interpreter.invoke()
        rounds = []
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(2000):
                interpreter.invoke()
            rounds.append((time.perf_counter() - start) / 2000 * 1e6)
        return min(rounds)

    costs = []
    for shape in shapes:
        plain, conditional = chain(shape, False), chain(shape, True)
        costs.append(
            {
                "shape": list(shape),
                "kilobytes": 4 * int(np.prod(shape)) / 1024,
                "threads": threads,
                "plain_us": plain,
                "with_if_us": conditional,
                "per_if_us": (conditional - plain) / count,
            }
        )
    return costs


def _plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names = list(results["variants"])
    entries = [results["variants"][n] for n in names]
    fig, ax = plt.subplots(figsize=(10, 4))
    bottom = np.zeros(len(names))
    for key, label in (
        ("convolution_us", "convolutions (XNNPACK)"),
        ("other_kernels_us", "other XNNPACK kernels (gate heads, masks)"),
        ("runtime_us", "interpreter: IF, conditions, partitions"),
    ):
        values = np.array([max(e[key], 0.0) for e in entries])
        ax.bar(np.arange(len(names)), values, bottom=bottom, label=label)
        bottom += values
    ax.set_xticks(np.arange(len(names)))
    ax.set_xticklabels([n.replace(", ", "\n") for n in names], fontsize=7)
    ax.set_ylabel("batch-1 latency, us per image")
    ax.set_title(
        f"Where the time goes: {results['images']} CIFAR-10 test images, "
        "1 thread (one run)"
    )
    ax.legend(fontsize=8)
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
        FLAGS.output_dir,
    )
    for name, entry in results["variants"].items():
        print(
            f"{name:45s} {entry['latency_vs_static']:.3f}x "
            f"conv {entry['convolution_us']:.0f} us, other kernels "
            f"{entry['other_kernels_us']:.0f} us, interpreter "
            f"{entry['runtime_us']:.0f} us"
        )
    for cost in results["if_cost"]:
        print(
            f"IF carrying {cost['kilobytes']:.0f} KB, {cost['threads']} "
            f"thread(s): {cost['per_if_us']:.2f} us; the chain of "
            f"{cost['plain_us']:.1f} us without"
        )


if __name__ == "__main__":
    define_flags()
    app.run(main)
