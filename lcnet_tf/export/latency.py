"""Batch-1 latency of exported models, for the benchmarks."""

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
    stats = {}
    for name, values in times.items():
        values = np.asarray(values) * 1e3
        stats[name] = {
            "images": int(len(values)),
            "mean_ms": float(values.mean()),
            "median_ms": float(np.median(values)),
            "p90_ms": float(np.percentile(values, 90)),
        }
    return stats, outputs
