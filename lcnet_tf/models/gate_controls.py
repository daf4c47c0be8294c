"""Inference-time controls of a trained gated model."""

import contextlib

from lcnet_tf.flops import gated_blocks
from lcnet_tf.layers.flops_budget import FlopsBudget
from lcnet_tf.layers.gate_head import check_threshold

_GATE_KINDS = ("all", "block", "channel")


def set_threshold(model, tau, kind="all"):
    """Sets the decision threshold of a model's gates, without rebuilding.

    A higher `tau` skips more (fewer FLOPs, usually lower accuracy); the
    change applies at once to `predict`, `evaluate` and compiled functions
    because the threshold lives in a variable.

    Args:
        model: a gated model built by lcnet_tf.
        tau: float in [0, 1].
        kind: str. `"all"`, `"block"` (L-Net gates only) or `"channel"`
            (C-Net gates only).

    Returns:
        int. Number of gates changed.

    Example:

    ```python
    set_threshold(model, 0.7)
    model.evaluate(test_ds)
    ```
    """
    tau = check_threshold(tau)
    if kind not in _GATE_KINDS:
        raise ValueError(
            f"`kind` must be one of {_GATE_KINDS}. Received: kind={kind!r}"
        )
    changed = 0
    for block in gated_blocks(model):
        gates = {"block": [block.block_gate], "channel": [block.channel_gate]}
        for gate in gates.get(kind, block.gates):
            if gate is not None:
                gate.tau = tau
                changed += 1
    if not changed:
        raise ValueError(
            f"Model '{model.name}' has no {kind} gates to set a threshold on."
        )
    return changed


@contextlib.contextmanager
def kept_thresholds(model):
    """Puts every gate's threshold back on leaving, even after an error.

    For code that moves a model's thresholds (`set_threshold`) to
    measure or export it elsewhere and must leave the model as it came.

    Args:
        model: a model built by lcnet_tf (a static one has none to keep).

    Yields:
        The model.

    Example:

    ```python
    with kept_thresholds(model):
        set_threshold(model, 0.4)
        to_tflite(model, "tau04.tflite")
    # the model's own thresholds again
    ```
    """
    gates = [gate for block in gated_blocks(model) for gate in block.gates]
    saved = [gate.tau for gate in gates]
    try:
        yield model
    finally:
        for gate, tau in zip(gates, saved):
            gate.tau = tau


def set_budget(model, target=None, weight=None):
    """Changes the FLOPs budget of a gated model between `fit` calls.

    Args:
        model: a gated model built by lcnet_tf.
        target: float in (0, 1] or None to keep the current one.
        weight: float >= 0 or None to keep the current one.

    Returns:
        The model's `FlopsBudget` layer.
    """
    budgets = [
        layer for layer in model.layers if isinstance(layer, FlopsBudget)
    ]
    if not budgets:
        raise ValueError(
            f"Model '{model.name}' has no FLOPs budget: it is not gated."
        )
    budget = budgets[0]
    if target is not None:
        budget.target = target
    if weight is not None:
        budget.weight = weight
    return budget
