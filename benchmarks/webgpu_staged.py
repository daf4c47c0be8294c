"""Staged form on a real GPU delegate: does closing blocks save GPU time?

LiteRT's WebGPU accelerator (ai-edge-litert; on this machine it runs on
SwiftShader, a software GPU, so only ratios mean anything) runs the
staged form of a gated model with its own routing of real test images
(for free channel gates also exported as a prefix of their reordered
channels, `routed_prefix`), with every gate open and with every
skippable block closed, and the
staged form of the static network of the same depth, taking turns in
one run. Writes `webgpu_staged.json` and a plot:

    python benchmarks/webgpu_staged.py \
        --gated_model=pretrained/lc_resnet20_t30_e10_r3_cifar10.keras \
        --data_dir=../shared/data/cifar10 --examples=60

With `--runtime=litertjs` the same exports run in LiteRT.js on WebGPU
in headless Chromium (`tflite/web/staged_runner.js`, the host loop in
JavaScript) and the results go to `litertjs_staged.json`.

On a machine with a real GPU but no TensorFlow, in two steps: export
here with `--prepare_dir=DIR`, then time there with `--exports=DIR`
(LiteRT, Keras and NumPy are enough; point `VK_ICD_FILENAMES` at the
GPU's Vulkan driver).
"""

import json
import os
import tempfile
import textwrap

from absl import app
from absl import flags

FLAGS = flags.FLAGS
INPUTS = "inputs.json"
# Variants also timed with their features through host memory.
HOST_COPIES = ("static", "gates_open")
RUNTIMES = ("litert", "litertjs")


def define_flags():
    flags.DEFINE_string("gated_model", None, "Trained gated `.keras` model.")
    flags.DEFINE_string(
        "static_model",
        "pretrained/resnet20_static_cifar10.keras",
        "Trained static `.keras` model of the same depth (empty: an "
        "untrained one; latency is the same, top-1 is not).",
    )
    flags.DEFINE_string("data_dir", None, "CIFAR-10 binary folder.")
    flags.DEFINE_integer("examples", 60, "Test images timed per variant.")
    flags.DEFINE_string(
        "output_dir", "benchmarks/results", "Where JSON and plot go."
    )
    flags.DEFINE_enum(
        "runtime",
        "litert",
        RUNTIMES,
        "litert: LiteRT's Python GPU accelerator; litertjs: LiteRT.js on "
        "WebGPU in headless Chromium.",
    )
    flags.DEFINE_string(
        "prepare_dir",
        None,
        "Only export the variants and images into this folder (needs "
        "TensorFlow), for `--exports` on another machine.",
    )
    flags.DEFINE_string(
        "exports",
        None,
        "Only time a folder that `--prepare_dir` wrote (needs LiteRT, "
        "Keras and NumPy, not TensorFlow).",
    )


def _exports(gated, static, directory, calibration=None):
    """Staged exports of every variant: {name: manifest path}."""
    from lcnet_tf.export import fold_model
    from lcnet_tf.export import to_tflite
    from lcnet_tf.export.channel_order import has_channel_gates
    from lcnet_tf.models import set_threshold

    def staged(model, name, **options):
        path = os.path.join(directory, f"{name}.tflite")
        return to_tflite(model, path, form="staged", **options).manifest_path

    paths = {
        "static": staged(static, "static"),
        "routed": staged(gated, "routed"),
    }
    if calibration is not None and has_channel_gates(
        fold_model(gated), free_only=True
    ):
        # Free channel gates as a prefix: width bodies, no masking.
        paths["routed_prefix"] = staged(
            gated,
            "routed_prefix",
            channel_chunks="prefix",
            representative_data=calibration,
        )
    set_threshold(gated, 0.0)
    paths["gates_open"] = staged(gated, "gates_open")
    # The same, each gate in its own signature call (no `next_...`).
    path = os.path.join(directory, "gates_open_unfused.tflite")
    paths["gates_open_unfused"] = to_tflite(
        gated, path, form="staged", fuse_gates=False
    ).manifest_path
    set_threshold(gated, 1.0, kind="block")
    paths["blocks_closed"] = staged(gated, "blocks_closed")
    return paths


def prepare_exports(
    gated_model, data_dir, examples, directory, static_model=None
):
    """Exports every variant and the test images into `directory`.

    Needs TensorFlow (the converter); the folder then travels to any
    machine with LiteRT, Keras and NumPy, where `time_exports` times it
    (e.g. a machine with a real GPU and no TensorFlow).

    Returns:
        dict: what `inputs.json` in `directory` holds.
    """
    import numpy as np

    from lcnet_tf.data.cifar10 import cifar10_arrays
    from lcnet_tf.export.channel_order import calibration_images
    from lcnet_tf.flops import count_flops
    from lcnet_tf.models import cifar_resnet
    from lcnet_tf.models.saving import load_model

    gated = load_model(gated_model, compile=False)
    depth = int(gated.name.rsplit("resnet", 1)[-1] or 20)
    if static_model:
        static = load_model(static_model, compile=False)
    else:
        static = cifar_resnet(depth, gating="none")
    images, labels = cifar10_arrays("test", data_dir, num_examples=examples)
    os.makedirs(directory, exist_ok=True)
    np.save(os.path.join(directory, "images.npy"), images)
    np.save(os.path.join(directory, "labels.npy"), labels)
    paths = _exports(gated, static, directory, calibration_images(data_dir))
    inputs = {
        "gated_model": gated_model,
        "static_model": static_model,
        "static_flops": int(count_flops(static, gates=False)),
        "variants": {
            name: os.path.relpath(path, directory)
            for name, path in paths.items()
        },
    }
    with open(os.path.join(directory, INPUTS), "w") as f:
        json.dump(inputs, f, indent=2)
    return inputs


def time_exports(directory, output_dir, rounds=5, runtime="litert"):
    """Times a `prepare_exports` folder on a WebGPU delegate.

    Needs no TensorFlow. The variants take turns in one run; ratios to
    the static export are what compare across machines.

    Args:
        directory: str. What `prepare_exports` wrote.
        output_dir: str. Where JSON and plot go.
        rounds: int. Turns per variant.
        runtime: str. `"litert"`: LiteRT's Python GPU accelerator,
            written to `webgpu_staged.json`; `"litertjs"`: LiteRT.js in
            headless Chromium, `litertjs_staged.json`.

    Returns:
        dict: the results, also written to the JSON.
    """
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {RUNTIMES}: {runtime!r}")
    if runtime == "litertjs":
        return _time_in_browser(directory, output_dir, rounds)

    from lcnet_tf.export import StagedRunner
    from lcnet_tf.export import webgpu
    from lcnet_tf.export.latency import measure_interleaved
    from lcnet_tf.export.latency import stack_outputs

    inputs, images, labels = _load(directory)
    icd = webgpu.configure_vulkan()
    software = bool(icd) and "swiftshader" in icd.lower()
    results = {
        "gated_model": inputs["gated_model"],
        "static_model": inputs["static_model"],
        "images": int(len(images)),
        "delegate": "LiteRT WebGPU accelerator ("
        + ("SwiftShader, a software GPU" if software else "a GPU driver")
        + ")",
        "vulkan_icd": icd,
        "variants": {},
    }
    runners = {}
    for name, path in inputs["variants"].items():
        path = os.path.join(directory, path)
        runners[name] = StagedRunner(path, accelerator="gpu")
        if name in HOST_COPIES:
            # The same export with every stage's outputs read back to
            # the host and written again (`device_buffers=False`).
            runners[f"{name}_host_copies"] = StagedRunner(
                path, accelerator="gpu", device_buffers=False
            )
    for name, runner in runners.items():
        if not runner.fully_on_gpu:
            raise RuntimeError(f"{name}: not every op ran on the GPU.")
    stats, outputs = measure_interleaved(
        runners, images, warmup=3, rounds=rounds
    )
    for name, entry in stats.items():
        result = stack_outputs(outputs[name])
        entry["device_buffers"] = runners[name].device_buffers
        entry["signatures_through_host"] = len(
            runners[name].signatures_through_host
        )
        results["variants"][name] = _scored(
            entry, stats["static"], result, inputs, labels
        )
    return _write(results, output_dir, "webgpu_staged")


def _time_in_browser(directory, output_dir, rounds):
    """`time_exports` with LiteRT.js's host loop in headless Chromium."""
    import numpy as np

    from lcnet_tf.export.browser_check import browser_available
    from lcnet_tf.export.browser_check import run_staged_in_browser
    from lcnet_tf.export.latency import latency_stats

    if not browser_available():
        raise RuntimeError(
            "LiteRT.js needs node, Chromium and tflite/web's npm packages "
            "(`make tflite/web/node_modules/.installed`)."
        )
    inputs, images, labels = _load(directory)
    variants = {
        name: os.path.join(directory, path)
        for name, path in inputs["variants"].items()
    }
    with tempfile.TemporaryDirectory() as case:
        page = run_staged_in_browser(
            case, variants, images, warmup=3, rounds=rounds
        )
    if not page["ok"]:
        raise RuntimeError(f"LiteRT.js failed: {page['error']}")
    results = {
        "gated_model": inputs["gated_model"],
        "static_model": inputs["static_model"],
        "images": int(len(images)),
        "delegate": "LiteRT.js WebGPU in headless Chromium "
        f"({page['adapter']})",
        "variants": {},
    }
    stats = {
        name: latency_stats(got["times_ms"])
        for name, got in page["variants"].items()
    }
    for name, got in page["variants"].items():
        if not got["fully_accelerated"]:
            raise RuntimeError(f"{name}: not every op ran on the GPU.")
        outputs = got["outputs"]
        entry = stats[name]
        entry["calls_per_image"] = got["calls"] / len(outputs)
        result = {
            "logits": np.array([o["logits"] for o in outputs]),
            "flops": np.array([o["flops"] for o in outputs], np.float64),
        }
        results["variants"][name] = _scored(
            entry, stats["static"], result, inputs, labels
        )
    return _write(results, output_dir, "litertjs_staged")


def _load(directory):
    """`(inputs.json's dict, images, labels)` of a `prepare_exports`
    folder."""
    import numpy as np

    with open(os.path.join(directory, INPUTS)) as f:
        inputs = json.load(f)
    images = np.load(os.path.join(directory, "images.npy"))
    labels = np.load(os.path.join(directory, "labels.npy"))
    return inputs, images, labels


def _scored(entry, static, result, inputs, labels):
    """A variant's latency stats with its FLOPs ratio, its latency
    against the static export's (`static`, stats of the same run) and
    its top-1, from its per-image `result` (`logits`, `flops`)."""
    import numpy as np

    entry["flops_ratio"] = float(
        np.mean(result["flops"]) / inputs["static_flops"]
    )
    entry["latency_vs_static"] = entry["mean_ms"] / static["mean_ms"]
    entry["top1"] = float(np.mean(result["logits"].argmax(-1) == labels))
    return entry


def _write(results, output_dir, name):
    """Writes `<name>.json` and `<name>.png`; returns the results."""
    os.makedirs(output_dir, exist_ok=True)
    with open(os.path.join(output_dir, f"{name}.json"), "w") as f:
        json.dump(results, f, indent=2)
    _plot(results, os.path.join(output_dir, f"{name}.png"))
    return results


def run_benchmark(
    gated_model,
    data_dir,
    examples,
    output_dir,
    static_model=None,
    runtime="litert",
):
    """The benchmark as a library function; returns the results dict."""
    with tempfile.TemporaryDirectory() as directory:
        prepare_exports(
            gated_model, data_dir, examples, directory, static_model
        )
        return time_exports(directory, output_dir, runtime=runtime)


def _plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variants = results["variants"]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([0, 1.05], [0, 1.05], ":", color="gray", label="time = FLOPs")
    for name, entry in variants.items():
        ax.scatter(entry["flops_ratio"], entry["latency_vs_static"])
        ax.annotate(name, (entry["flops_ratio"], entry["latency_vs_static"]))
    ax.set_xlabel("FLOPs ratio (vs static ResNet)")
    ax.set_ylabel("latency ratio (vs static, same delegate)")
    title = f"Staged form, {results['delegate']}, {results['images']} images"
    ax.set_title("\n".join(textwrap.wrap(title, 70)), fontsize=9)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv):
    del argv
    if FLAGS.exports:
        results = time_exports(
            FLAGS.exports, FLAGS.output_dir, runtime=FLAGS.runtime
        )
        print(json.dumps(results["variants"], indent=2))
        return
    if not FLAGS.gated_model:
        raise app.UsageError("--gated_model is required.")
    if FLAGS.prepare_dir:
        prepare_exports(
            FLAGS.gated_model,
            FLAGS.data_dir,
            FLAGS.examples,
            FLAGS.prepare_dir,
            static_model=FLAGS.static_model or None,
        )
        return
    results = run_benchmark(
        FLAGS.gated_model,
        FLAGS.data_dir,
        FLAGS.examples,
        FLAGS.output_dir,
        static_model=FLAGS.static_model or None,
        runtime=FLAGS.runtime,
    )
    print(json.dumps(results["variants"], indent=2))


if __name__ == "__main__":
    define_flags()
    app.run(main)
