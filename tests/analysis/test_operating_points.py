import math

import numpy as np
import pytest

from lcnet_tf.analysis import choose_operating_points
from lcnet_tf.analysis import operating_points
from lcnet_tf.analysis import pareto_front
from lcnet_tf.analysis.operating_points import is_monotone
from lcnet_tf.flops import model_gates
from lcnet_tf.models import cifar_resnet
from tests.fixtures import random_images
from tests.fixtures import randomize_gates


def _point(tau, top1, ratio):
    return {"tau": tau, "top1": top1, "flops_ratio": ratio}


# Shaped like a recipe-5 row's sweep: past the trained threshold's FLOPs,
# opening more blocks loses accuracy.
SWEEP = [
    _point(0.05, 0.8272, 0.922),
    _point(0.2, 0.8327, 0.804),
    _point(0.35, 0.8335, 0.748),
    _point(0.5, 0.8252, 0.652),
    _point(0.6, 0.7504, 0.513),
    _point(0.9, 0.2508, 0.298),
]


def test_front_drops_points_that_cost_more_for_no_more_accuracy():
    front = pareto_front(SWEEP, min_gain=0.0)
    # Cheapest first; 0.05 is worse than 0.35 at more FLOPs.
    assert [p["tau"] for p in front] == [0.9, 0.6, 0.5, 0.35]
    assert is_monotone(front) and not is_monotone(SWEEP)
    # 0.35 adds 0.0083 over 0.5: a point only above a smaller gain.
    assert [p["tau"] for p in pareto_front(SWEEP, min_gain=0.01)] == [
        0.9,
        0.6,
        0.5,
    ]


def test_front_of_equal_flops_keeps_the_more_accurate():
    front = pareto_front(
        [_point(0.4, 0.5, 0.5), _point(0.3, 0.6, 0.5)], min_gain=0.0
    )
    assert [p["tau"] for p in front] == [0.3]


@pytest.mark.parametrize(
    "points, min_gain, match",
    [
        ([], 0.0, "empty"),
        ([{"tau": 0.5, "top1": 0.5}], 0.0, "flops_ratio"),
        (SWEEP, -0.1, "min_gain"),
        (SWEEP, math.nan, "min_gain"),
    ],
)
def test_front_rejects_bad_input(points, min_gain, match):
    with pytest.raises(ValueError, match=match):
        pareto_front(points, min_gain)


def test_choose_needs_the_chosen_taus_measured():
    knob = choose_operating_points(SWEEP, SWEEP[::-1], 0.0)
    assert [p["tau"] for p in knob["points"]] == [0.9, 0.6, 0.5, 0.35]
    assert knob["monotone"] and not knob["sweep_monotone"]
    with pytest.raises(ValueError, match=r"no point at tau \[0.35\]"):
        choose_operating_points(SWEEP, SWEEP[3:], 0.0)


def test_operating_points_are_chosen_on_calibration_and_measured_apart():
    model = cifar_resnet(8, gating="lc", tau=0.4)
    randomize_gates(model, seed=1)
    images = random_images(24, seed=3)
    labels = np.arange(24) % 10
    calibration = [(images[:12], labels[:12])]
    evaluation = [(images[12:], labels[12:])]
    taus = [0.0, 0.3, 0.6, 1.0]
    knob = operating_points(model, calibration, evaluation, taus, 0.0)
    assert [p["tau"] for p in knob["calibration_sweep"]] == taus
    assert [p["tau"] for p in knob["evaluation_sweep"]] == taus
    # The chosen taus are the calibration sweep's front ...
    front = pareto_front(knob["calibration_sweep"], 0.0)
    assert [p["tau"] for p in knob["points"]] == [p["tau"] for p in front]
    by_tau = {p["tau"]: p for p in knob["evaluation_sweep"]}
    for point, chosen in zip(knob["points"], front):
        assert point["calibration_top1"] == chosen["top1"]
        # ... with the figures measured on the other images.
        assert point["top1"] == by_tau[point["tau"]]["top1"]
        assert point["flops_ratio"] == by_tau[point["tau"]]["flops_ratio"]
    assert knob["monotone"] == is_monotone(knob["points"])
    assert knob["sweep_monotone"] == is_monotone(knob["evaluation_sweep"])
    # The model keeps its own threshold.
    taus_after = [gate.tau for gate in model_gates(model)]
    assert taus_after and taus_after == pytest.approx([0.4] * len(taus_after))
    # On the images that chose them, the points are monotone.
    same = operating_points(model, calibration, calibration, taus, 0.0)
    assert same["monotone"]
    with pytest.raises(ValueError, match="min_gain"):
        operating_points(model, calibration, evaluation, taus, -1.0)
