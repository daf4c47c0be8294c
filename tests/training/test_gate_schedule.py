import keras
import numpy as np
import pytest

from lcnet_tf.layers import GateRegularizer
from lcnet_tf.models import cifar_resnet
from lcnet_tf.training import GateSchedule
from tests.fixtures import fit_on_random_images


class _Record(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.targets, self.progress = [], []

    def on_train_batch_begin(self, batch, logs=None):
        budget = self.model.get_layer("flops_budget")
        gate = self.model.get_layer("stage1_block1").block_gate
        self.targets.append(budget.target)
        self.progress.append(float(gate.progress.numpy()))


def test_target_anneals_from_one_and_progress_follows_steps():
    model = cifar_resnet(
        8,
        gating="lc",
        input_shape=(8, 8, 3),
        budget_target=0.2,
        gate_regularizer=GateRegularizer(bounds_weight=1.0),
    )
    record = _Record()
    fit_on_random_images(
        model, [GateSchedule(8, target=0.2, budget_anneal=0.5), record]
    )
    np.testing.assert_allclose(record.progress, np.arange(8) / 8)
    # From 1.0 to 0.2 over the first 4 of 8 steps, then held.
    np.testing.assert_allclose(
        record.targets, [1.0, 0.8, 0.6, 0.4, 0.2, 0.2, 0.2, 0.2], 1e-6
    )


def test_schedule_continues_from_the_optimizer_step():
    model = cifar_resnet(8, gating="l", input_shape=(8, 8, 3))
    record = _Record()
    schedule = GateSchedule(16, target=0.5, budget_anneal=1.0)
    fit_on_random_images(model, [schedule], epochs=1)
    # A second fit (as after a resume) starts at step 4, not at 0.
    fit_on_random_images(
        model, [schedule, _TargetOnly(record)], epochs=1, compile=False
    )
    np.testing.assert_allclose(
        record.targets, [1 - 0.5 * s / 16 for s in range(4, 8)], 1e-6
    )


class _TargetOnly(keras.callbacks.Callback):
    def __init__(self, record):
        super().__init__()
        self.record = record

    def on_train_batch_begin(self, batch, logs=None):
        budget = self.model.get_layer("flops_budget")
        self.record.targets.append(budget.target)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(total_steps=0), "total_steps"),
        (dict(total_steps=4, budget_anneal=1.5), "budget_anneal"),
        (dict(total_steps=4, target=0.0), "target"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GateSchedule(**kwargs)
