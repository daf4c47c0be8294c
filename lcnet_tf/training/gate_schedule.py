"""Schedules of the gate-training terms over one `fit`."""

import keras

from lcnet_tf.flops import model_gates
from lcnet_tf.layers.flops_budget import FlopsBudget
from lcnet_tf.losses import check_budget_target


class GateSchedule(keras.callbacks.Callback):
    """Anneals the budget target and the gate regularizers during `fit`.

    Before every training step it sets each gate's training progress
    (`optimizer.iterations / total_steps`, clipped to 1), which tightens
    `GateRegularizer`'s keep-rate bounds and fades its batch-shaping, and,
    with `budget_anneal > 0`, moves the FLOPs budget target linearly from
    1.0 (no saving asked) to `target` over the first `budget_anneal`
    share of training: the network first keeps everything and learns
    which images can spare which blocks, instead of being cut to a fixed
    sub-network in the first steps.

    Progress comes from the optimizer's step counter, so a run resumed by
    `RunBackup` continues the schedule where it stopped.

    Args:
        total_steps: int >= 1. Optimizer steps of the whole run.
        target: float in (0, 1] or None. Final budget target; None leaves
            the target alone.
        budget_anneal: float in [0, 1]. Share of training over which the
            target falls from 1.0 to `target` (0: from the first step).

    Example:

    ```python
    model.fit(
        train_ds, epochs=10,
        callbacks=[GateSchedule(10 * steps, target=0.3, budget_anneal=0.5)],
    )
    ```
    """

    def __init__(self, total_steps, target=None, budget_anneal=0.0):
        super().__init__()
        if int(total_steps) < 1:
            raise ValueError(
                f"`total_steps` must be >= 1. Received: {total_steps}"
            )
        if not 0.0 <= float(budget_anneal) <= 1.0:
            raise ValueError(
                f"`budget_anneal` is a share of training in [0, 1]. "
                f"Received: budget_anneal={budget_anneal}"
            )
        self.total_steps = int(total_steps)
        self.target = None if target is None else check_budget_target(target)
        self.budget_anneal = float(budget_anneal)
        self._gates = self._budget = None

    def _find(self):
        model = getattr(self.model, "student", self.model)
        self._gates = [
            gate
            for gate in model_gates(model)
            if getattr(gate, "regularizer", None) is not None
        ]
        # The budget layer closes the model (see `build_resnet`).
        budgets = [
            layer for layer in model.layers if isinstance(layer, FlopsBudget)
        ]
        self._budget = budgets[0] if budgets else None

    def progress(self):
        """Share of training done, from the optimizer's step counter."""
        step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        return min(step / self.total_steps, 1.0)

    def target_at(self, progress):
        """The budget target at a training progress in [0, 1]."""
        if self.budget_anneal == 0.0 or progress >= self.budget_anneal:
            return self.target
        share = progress / self.budget_anneal
        return 1.0 - (1.0 - self.target) * share

    def on_train_batch_begin(self, batch, logs=None):
        if self._gates is None:
            self._find()
        progress = self.progress()
        for gate in self._gates:
            gate.progress.assign(progress)
        if self.target is not None and self._budget is not None:
            self._budget.target_variable.assign(self.target_at(progress))
