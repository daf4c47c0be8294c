"""Evaluation report: top-1, exact per-image FLOPs and keep rates."""

import json
import os

import numpy as np

from lcnet_tf.flops import batches_with_flops
from lcnet_tf.flops import count_flops
from lcnet_tf.flops import gated_blocks
from lcnet_tf.training.gate_decisions import decision_agreement
from lcnet_tf.training.gate_decisions import decisions_of
from lcnet_tf.training.gate_decisions import gate_outputs
from lcnet_tf.training.routing_stats import routing_codes
from lcnet_tf.training.routing_stats import routing_stats


def per_image_results(model, dataset):
    """Runs a model image by image and keeps what it did for each image.

    Every batch is checked (shape, dtype, NaN) before it runs, and runs
    once: logits, FLOPs and every gate's decision come from one pass.

    Args:
        model: a model built by lcnet_tf, gated or static.
        dataset: iterable of `(images, labels)` batches.

    Returns:
        A dict of NumPy arrays over the `n` images, in dataset order:
        `labels` and `predictions` `(n,)`, `flops` `(n,)` (exact integer
        multiply-accumulates, gate heads included) and `keep` `(n,
        blocks)` (the fraction of each gated block's body that ran),
        `block_runs` `(n, block_gates)` and `channel_decisions` `(n,
        channel_gates)` (every gate's 0/1 decision, see `routing_codes`),
        plus `block_names`.

    Example:

    ```python
    results = per_image_results(model, cifar10_dataset("test"))
    hardest = np.argsort(results["flops"])[-8:]
    ```
    """
    blocks = gated_blocks(model)
    labels, predictions, flops, keeps, runs, channels = [], [], [], [], [], []

    def images_of(dataset):
        # The labels are kept in step as the images go to the model.
        for images, batch_labels in dataset:
            labels.append(np.asarray(batch_labels).reshape(-1))
            yield images

    gates = gate_outputs(model) if blocks else None
    for out in batches_with_flops(model, images_of(dataset), gates):
        images, decisions = out["images"], out["decisions"]
        flops.append(out["flops"])
        predictions.append(np.argmax(out["logits"], axis=-1))
        if blocks:
            keeps.append(np.stack([d[:, 0] * d[:, 1] for d in decisions], 1))
            codes = routing_codes(model, decisions_of(model, out["extra"]))
            runs.append(codes[0])
            channels.append(codes[1])
        else:
            keeps.append(np.zeros((len(images), 0), np.float32))
            runs.append(np.zeros((len(images), 0), np.int8))
            channels.append(np.zeros((len(images), 0), np.int8))
    if not labels:
        raise ValueError("The evaluation dataset is empty.")
    return {
        "labels": np.concatenate(labels).astype(np.int64),
        "predictions": np.concatenate(predictions).astype(np.int64),
        "flops": np.concatenate(flops).astype(np.int64),
        "keep": np.concatenate(keeps).astype(np.float32),
        "block_runs": np.concatenate(runs),
        "channel_decisions": np.concatenate(channels),
        "block_names": [block.name for block in blocks],
    }


def evaluate_model(model, dataset, agreement_images=None, results=None):
    """Evaluates a model image by image on a labelled dataset.

    Every batch is checked (shape, dtype, NaN) before it runs; per-image
    FLOPs are exact integers computed from the decisions the model made
    for that image, gate heads included.

    Args:
        model: a model built by lcnet_tf, gated or static.
        dataset: iterable of `(images, labels)` batches, e.g. from
            `lcnet_tf.data.cifar10_dataset("test")`.
        agreement_images: float array or None. For a gated model, images
            on which to compare training-mode and inference decisions
            (`decision_agreement`, batch 128).
        results: None, or `per_image_results(model, dataset)` already
            computed, to report on without running `dataset` again.

    Returns:
        A dict with `num_images`, `top1`, `flops_mean` / `_min` / `_max`,
        `static_flops` (the ungated network), `open_flops` (every gate
        open), `flops_ratio` (mean / static), `gate_overhead`
        (open / static - 1), `keep_rates` (per gated block, the fraction
        of its body that ran), `tau` (per gated block), `shut_blocks`
        (`shut_blocks`: blocks a channel gate removed) and, for a gated
        model, `routing` (`routing_stats`) and, with `agreement_images`,
        `train_inference_agreement` (`decision_agreement`).

    Example:

    ```python
    report = evaluate_model(model, cifar10_dataset("test"))
    print(format_report(report))
    ```
    """
    if results is None:
        results = per_image_results(model, dataset)
    report = summarize(model, results)
    if agreement_images is not None and gated_blocks(model):
        report["train_inference_agreement"] = decision_agreement(
            model, agreement_images
        )
    return report


def summarize(model, results):
    """`evaluate_model`'s report from `per_image_results`' arrays."""
    blocks = gated_blocks(model)
    static = count_flops(model, gates=False)
    open_flops = count_flops(model, gates=True)
    per_image = results["flops"]
    keep = results["keep"].mean(axis=0)
    report = {
        "model": model.name,
        "num_images": int(len(per_image)),
        "top1": float(np.mean(results["predictions"] == results["labels"])),
        "flops_mean": float(per_image.mean()),
        "flops_min": int(per_image.min()),
        "flops_max": int(per_image.max()),
        "static_flops": int(static),
        "open_flops": int(open_flops),
        "flops_ratio": float(per_image.mean() / static),
        "gate_overhead": float(open_flops / static - 1.0),
        "keep_rates": {
            block.name: float(rate) for block, rate in zip(blocks, keep)
        },
        "tau": {block.name: block.gates[0].tau for block in blocks},
        "shut_blocks": shut_blocks(blocks, results["keep"]),
    }
    if blocks:
        report["routing"] = routing_stats(model, results)
    return report


# A block that must run but runs no channel on more than this share of
# the images has, in effect, been removed by its channel gate.
SHUT_SHARE = 0.5


def shut_blocks(blocks, keep):
    """Blocks that no block gate may skip but whose channel gate shut
    them on most images.

    A block that changes shape has no block gate (`always_runs`; unless
    `gate_projection_blocks`), yet a channel gate can keep none of its
    channels: a nested gate does so with one closed decision, its first
    group's. The block then outputs its projection shortcut alone.
    `channel_min_groups=1` prevents it.

    Args:
        blocks: the model's gated blocks (`gated_blocks`).
        keep: `(n, blocks)` share of each block's body that ran per
            image (`per_image_results`' `keep`).

    Returns:
        dict: block name -> share of the images on which it ran no
        channel, for the blocks above `SHUT_SHARE`.
    """
    shut = {}
    for index, block in enumerate(blocks):
        if not block.always_runs or block.channel_gate is None:
            continue
        share = float(np.mean(keep[:, index] == 0))
        if share > SHUT_SHARE:
            shut[block.name] = share
    return shut


def shut_block_warnings(report):
    """One warning line per block of the report's `shut_blocks`."""
    return [
        f"{name} ran no channel on {100 * share:.1f}% of the images, "
        f"though it may not be skipped (it changes shape); with nested "
        f"channel gates, train with channel_min_groups=1"
        for name, share in report.get("shut_blocks", {}).items()
    ]


def format_report(report):
    """A human-readable summary of `evaluate_model`'s report."""
    lines = [
        f"model {report['model']}: {report['num_images']} images",
        f"top-1 accuracy      {100 * report['top1']:.2f}%",
        f"FLOPs per image     mean {report['flops_mean']:.4g}  "
        f"min {report['flops_min']:.4g}  max {report['flops_max']:.4g}",
        f"static network      {report['static_flops']:.4g} FLOPs",
        f"FLOPs ratio         {report['flops_ratio']:.3f} "
        f"({1 / report['flops_ratio']:.2f}x fewer than static)",
        f"gate overhead       {100 * report['gate_overhead']:.3f}% "
        f"(every gate open)",
    ]
    routing = report.get("routing")
    if routing:
        lines += [
            f"distinct routings   {routing['distinct_block_routings']} "
            f"(blocks), {routing['distinct_routings']} (with channels); "
            f"top one on {100 * routing['top_routing_share']:.1f}% of images",
            f"FLOPs p10/p50/p90   {routing['flops_p10']:.4g} / "
            f"{routing['flops_p50']:.4g} / {routing['flops_p90']:.4g} "
            f"(p90/p10 {routing['flops_p90_over_p10']:.2f})",
            f"conditional gates   "
            f"{100 * routing['conditional_gate_share']:.1f}% of "
            f"{routing['num_gates']} keep between 5% and 95% of images",
        ]
        independent = routing.get("independent_block_routings")
        if independent is not None:
            # Reports written before these fields existed lack them.
            lines.append(
                f"gate coupling       mean |corr| "
                f"{routing['block_gate_coupling']:.2f} between block "
                f"gates; {independent:.0f} block routings if each "
                f"decided alone"
            )
    agreement = report.get("train_inference_agreement")
    if agreement:
        lines.append(
            f"train/infer agree   {100 * agreement['agreement']:.2f}% of "
            f"decisions; FLOPs ratio {agreement['flops_ratio_training']:.3f}"
            f" (training mode) vs {agreement['flops_ratio_inference']:.3f}"
        )
    knob = report.get("operating_points")
    if knob:
        lines.append(
            f"operating points    {len(knob['points'])} thresholds on the "
            f"calibration images' Pareto front; top-1 monotone in FLOPs: "
            f"{'yes' if knob['monotone'] else 'no'} (whole sweep: "
            f"{'yes' if knob['sweep_monotone'] else 'no'})"
        )
        for point in knob["points"]:
            line = (
                f"  tau {point['tau']:<5g} top-1 "
                f"{100 * point['top1']:.2f}%  FLOPs ratio "
                f"{point['flops_ratio']:.3f}"
            )
            # Sweeps saved before points counted their routings lack it.
            if "distinct_block_routings" in point:
                line += (
                    f"  {point['distinct_block_routings']} routings, "
                    f"p90/p10 {point['flops_p90_over_p10']:.2f}"
                )
            lines.append(line)
    value = report.get("routing_value")
    if value:
        lines += [
            f"routing per image   top-1 "
            f"{100 * value['routed']['top1']:.2f}% at FLOPs ratio "
            f"{value['routed']['flops_ratio']:.3f}; the same body with "
            f"every image on its most frequent routing "
            f"{100 * value['top_routing']['top1']:.2f}% at "
            f"{value['top_routing']['flops_ratio']:.3f} (gain "
            f"{100 * value['gain']:+.2f} points; "
            f"{100 * value['off_top']['share']:.1f}% of images leave it)",
        ]
    lines += [f"warning: {line}" for line in shut_block_warnings(report)]
    if report["keep_rates"]:
        lines.append("keep rate per gated block:")
        for name, rate in report["keep_rates"].items():
            lines.append(f"  {name:<16} {rate:.3f}")
    return "\n".join(lines)


def write_report(report, path):
    """Writes a report as JSON, atomically."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    partial = f"{path}.partial"
    with open(partial, "w") as f:
        json.dump(report, f, indent=2)
    os.replace(partial, path)
