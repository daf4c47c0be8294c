"""The FLOPs budget loss of the gated networks."""

import math

import keras
from keras import ops


def check_budget_target(target):
    """Validates a FLOPs target (fraction of the static network's FLOPs)."""
    try:
        value = float(target)
    except (TypeError, ValueError):
        raise ValueError(
            f"Budget `target` must be a number in (0, 1]. Received: "
            f"target={target!r}"
        ) from None
    if not math.isfinite(value) or not 0.0 < value <= 1.0:
        raise ValueError(
            f"Budget `target` is the wanted mean FLOPs as a fraction of the "
            f"static network's and must be in (0, 1]. Received: "
            f"target={target!r}"
        )
    return value


def check_budget_weight(weight):
    """Validates the weight of the budget term."""
    try:
        value = float(weight)
    except (TypeError, ValueError):
        value = float("nan")
    if not math.isfinite(value) or value < 0.0:
        raise ValueError(
            f"Budget `weight` must be a finite number >= 0. Received: "
            f"weight={weight!r}"
        )
    return value


def budget_loss(flops_ratio, target, weight):
    """`weight * (mean(flops_ratio) - target) ** 2`.

    Args:
        flops_ratio: tensor `(batch,)`. Per-image FLOPs divided by the
            static network's FLOPs, computed from differentiable gate
            values so the gradient reaches the gates.
        target: float or scalar tensor in (0, 1]. Wanted mean ratio.
        weight: float or scalar tensor >= 0. Weight of the term.

    Returns:
        A scalar tensor.

    Example:

    ```python
    budget_loss(ops.convert_to_tensor([0.4, 0.8]), target=0.5, weight=2.0)
    ```
    """
    flops_ratio = ops.convert_to_tensor(flops_ratio)
    target = ops.cast(target, flops_ratio.dtype)
    weight = ops.cast(weight, flops_ratio.dtype)
    return weight * ops.square(ops.mean(flops_ratio) - target)


@keras.saving.register_keras_serializable(package="lcnet_tf")
class BudgetLoss:
    """The budget term as a serializable callable.

    Args:
        target: float in (0, 1]. Wanted mean FLOPs ratio.
        weight: float >= 0. Weight of the term (`lambda` in DESIGN.md).

    Example:

    ```python
    loss = BudgetLoss(target=0.5, weight=2.0)
    value = loss(flops_ratio)
    ```
    """

    def __init__(self, target=0.5, weight=2.0):
        self.target = check_budget_target(target)
        self.weight = check_budget_weight(weight)

    def __call__(self, flops_ratio):
        return budget_loss(flops_ratio, self.target, self.weight)

    def get_config(self):
        return {"target": self.target, "weight": self.weight}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
