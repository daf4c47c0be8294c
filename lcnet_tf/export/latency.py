"""Batch-1 latency of exported models, for the benchmarks."""

import os
import time

import numpy as np


def stack_outputs(outputs):
    """Concatenates a list of per-image output dicts."""
    return {
        key: np.concatenate([np.asarray(o[key]) for o in outputs])
        for key in outputs[0]
    }


def measure_interleaved(runners, images, warmup=20, rounds=10):
    """Times several runners over the same images, taking turns.

    The images are split into `rounds` slices; each runner runs a whole
    slice in its turn. Taking turns spreads the machine's slow moments
    over every runner, so latency ratios from one run are comparable,
    while each runner keeps its weights in cache within a slice (turns
    image by image would let the models evict each other).

    Args:
        runners: dict name -> callable taking a `(1, H, W, C)` array.
        images: float array `(n, H, W, C)`.
        warmup: int. Untimed calls at the start of every turn.
        rounds: int. Number of turns per runner.

    Returns:
        `({name: stats}, {name: outputs})`: stats holds `images`,
        `mean_ms`, `median_ms` and `p90_ms`; outputs the per-image
        results in image order.
    """
    times = {name: [] for name in runners}
    outputs = {name: [] for name in runners}
    for part in np.array_split(np.arange(len(images)), rounds):
        for name, run in runners.items():
            for image in images[part[:warmup]]:
                run(image[None])
            for image in images[part]:
                start = time.perf_counter()
                result = run(image[None])
                times[name].append(time.perf_counter() - start)
                outputs[name].append(result)
    stats = {
        name: latency_stats(np.asarray(values) * 1e3)
        for name, values in times.items()
    }
    return stats, outputs


def latency_stats(times_ms):
    """`images`, `mean_ms`, `median_ms` and `p90_ms` of per-image times.

    Args:
        times_ms: per-image latencies in milliseconds.

    Returns:
        dict of the four figures.
    """
    values = np.asarray(times_ms, np.float64)
    return {
        "images": int(len(values)),
        "mean_ms": float(values.mean()),
        "median_ms": float(np.median(values)),
        "p90_ms": float(np.percentile(values, 90)),
    }


def export_variants(gated_models, static_model, directory):
    """The static export and each gated model's two dynamic ones.

    Args:
        gated_models: paths of trained gated `.keras` models.
        static_model: path of a static `.keras` model, or None for a
            fresh ResNet of the first gated model's depth (latency does
            not depend on the weights).
        directory: str. Where the `.tflite` files go.

    Returns:
        dict name -> path: "static", then "<model>, own routing" and
        "<model>, gates open" for each gated model.

    Example:
    ```python
    paths = export_variants(["lc_resnet20.keras"], None, "/tmp/exports")
    runners = {name: TFLiteModel(p, num_threads=1) for name, p in paths.items()}
    stats, _ = measure_interleaved(runners, x_test[:300])
    ```
    """
    from lcnet_tf.export.tflite_exporter import to_tflite
    from lcnet_tf.models import cifar_resnet
    from lcnet_tf.models import set_threshold
    from lcnet_tf.models.saving import load_model

    if static_model:
        static = load_model(static_model, compile=False)
    else:
        first = load_model(gated_models[0], compile=False)
        depth = int(first.name.rsplit("resnet", 1)[-1] or 20)
        static = cifar_resnet(depth, gating="none")
    paths = {"static": os.path.join(directory, "static.tflite")}
    to_tflite(static, paths["static"], form="dynamic")
    for source in gated_models:
        model = load_model(source, compile=False)
        name = os.path.basename(source).replace("_cifar10", "")
        name = os.path.splitext(name)[0]
        for variant in ("own routing", "gates open"):
            if variant == "gates open":
                set_threshold(model, 0.0)
            path = os.path.join(directory, f"{len(paths)}.tflite")
            to_tflite(model, path, form="dynamic")
            paths[f"{name}, {variant}"] = path
    return paths
