"""Thresholds where spending more FLOPs buys accuracy, chosen on images
other than the ones a row is judged on."""

import math

from lcnet_tf.analysis.threshold_sweep import threshold_sweep

# A step up in FLOPs must buy at least this much top-1 on the
# calibration images (0.2 points: 20 of 10,000 images), so that noise
# between two nearly equal thresholds does not make an operating point.
DEFAULT_MIN_GAIN = 0.002

# Steps of 0.05: a row's accuracy can fall from its trained value to half
# of it within 0.1 of its threshold, so a coarser grid misses the points
# between (tau 0.5 -> 0.6 takes `lc_resnet20_t30_e10_r5` from 80.7% to
# 52.4%).
KNOB_TAUS = tuple(round(0.05 * i, 2) for i in range(1, 20))


def pareto_front(points, min_gain=DEFAULT_MIN_GAIN):
    """The points of a sweep that no cheaper point matches in accuracy.

    Going up in FLOPs, a point is kept when its top-1 beats every
    cheaper point's by more than `min_gain`; the rest cost more and are
    no better, so a user would never choose them.

    Args:
        points: sweep points, dicts with `top1` and `flops_ratio` (as
            `threshold_sweep` returns).
        min_gain: float >= 0. Top-1 (a fraction) a point must add over
            the best cheaper one.

    Returns:
        The kept points, cheapest first.

    Example:

    ```python
    front = pareto_front(threshold_sweep(model, calibration, taus))
    ```
    """
    min_gain = _check_min_gain(min_gain)
    points = list(points)
    if not points:
        raise ValueError("`points` is empty: give at least one sweep point.")
    for point in points:
        missing = {"top1", "flops_ratio"} - set(point)
        if missing:
            raise ValueError(
                f"A sweep point lacks {sorted(missing)}: {point}. Points "
                f"come from `threshold_sweep`."
            )
    front, best = [], -math.inf
    for point in sorted(points, key=lambda p: (p["flops_ratio"], -p["top1"])):
        if point["top1"] > best + min_gain:
            front.append(point)
            best = point["top1"]
    return front


def is_monotone(points):
    """Whether top-1 never falls as FLOPs rise over `points`."""
    ordered = sorted(points, key=lambda p: p["flops_ratio"])
    return all(a["top1"] <= b["top1"] for a, b in zip(ordered, ordered[1:]))


def operating_points(
    model, calibration, evaluation, taus=KNOB_TAUS, min_gain=None
):
    """A threshold knob whose every setting is worth its FLOPs.

    A row trained at one threshold may lose accuracy at thresholds that
    open blocks its body learned to do without, so its raw sweep is not
    monotone. This sweeps `taus` on `calibration` images (training
    images, say), keeps the thresholds on the Pareto front there
    (`pareto_front`), and measures them on `evaluation`: the knob a user
    gets, judged on images that did not choose it.

    Args:
        model: a gated model built by lcnet_tf.
        calibration: labelled `(images, labels)` batches that choose the
            thresholds.
        evaluation: labelled batches that measure them (the test set).
        taus: thresholds to try, in [0, 1].
        min_gain: float or None. See `pareto_front`; None for
            `DEFAULT_MIN_GAIN`.

    Returns:
        A dict: `calibration_sweep` and `evaluation_sweep` (every tau, as
        `threshold_sweep` gives them), `points` (the chosen thresholds,
        cheapest first, with their evaluation `top1` / `flops_ratio` and
        their `calibration_top1` / `calibration_flops_ratio`),
        `min_gain`, and `monotone` / `sweep_monotone` (whether top-1
        never falls as FLOPs rise, over `points` / over the whole
        evaluation sweep).

    Example:

    ```python
    knob = operating_points(model, train_head, test_ds)
    for point in knob["points"]:
        print(point["tau"], point["top1"], point["flops_ratio"])
    ```
    """
    # Checked before the sweeps, which take minutes.
    min_gain = _check_min_gain(min_gain)
    return choose_operating_points(
        threshold_sweep(model, calibration, taus),
        threshold_sweep(model, evaluation, taus),
        min_gain,
    )


def choose_operating_points(calibration_sweep, evaluation_sweep, min_gain=None):
    """`operating_points` from its two sweeps, measured already.

    Args:
        calibration_sweep: `threshold_sweep` points on the images that
            choose.
        evaluation_sweep: points on the images that measure, at (at
            least) the same taus.
        min_gain: float or None. See `operating_points`.

    Returns:
        As `operating_points`.
    """
    min_gain = _check_min_gain(min_gain)
    front = pareto_front(calibration_sweep, min_gain)
    measured = {p["tau"]: p for p in evaluation_sweep}
    missing = [p["tau"] for p in front if p["tau"] not in measured]
    if missing:
        raise ValueError(
            f"The evaluation sweep has no point at tau {missing}: sweep "
            f"both image sets at the same thresholds."
        )
    points = [
        dict(
            measured[p["tau"]],
            calibration_top1=p["top1"],
            calibration_flops_ratio=p["flops_ratio"],
        )
        for p in front
    ]
    evaluation_sweep = list(evaluation_sweep)
    return {
        "calibration_sweep": list(calibration_sweep),
        "evaluation_sweep": evaluation_sweep,
        "points": points,
        "min_gain": min_gain,
        "monotone": is_monotone(points),
        "sweep_monotone": is_monotone(evaluation_sweep),
    }


def _check_min_gain(min_gain):
    """`min_gain` as a float (None: `DEFAULT_MIN_GAIN`), or a clear error."""
    if min_gain is None:
        return DEFAULT_MIN_GAIN
    if not math.isfinite(min_gain) or min_gain < 0:
        raise ValueError(
            f"`min_gain` must be a finite number >= 0 (a top-1 fraction). "
            f"Received: {min_gain}"
        )
    return float(min_gain)
