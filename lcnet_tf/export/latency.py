"""Batch-1 latency of exported models, for the benchmarks."""

import time

import numpy as np


def measure_latency(run, images, warmup=20):
    """Times `run(image[None])` once per image after a warm-up.

    Args:
        run: callable taking a `(1, H, W, C)` array.
        images: float array `(n, H, W, C)`.
        warmup: int. Untimed calls first (on the first images).

    Returns:
        `(stats, outputs)`: stats is a dict of `mean_ms`, `median_ms`,
        `p90_ms` and `images`; outputs the per-image results.
    """
    for image in images[:warmup]:
        run(image[None])
    times, outputs = [], []
    for image in images:
        start = time.perf_counter()
        result = run(image[None])
        times.append(time.perf_counter() - start)
        outputs.append(result)
    times = np.asarray(times) * 1e3
    stats = {
        "images": int(len(times)),
        "mean_ms": float(times.mean()),
        "median_ms": float(np.median(times)),
        "p90_ms": float(np.percentile(times, 90)),
    }
    return stats, outputs


def stack_outputs(outputs):
    """Concatenates a list of per-image output dicts."""
    return {
        key: np.concatenate([np.asarray(o[key]) for o in outputs])
        for key in outputs[0]
    }
