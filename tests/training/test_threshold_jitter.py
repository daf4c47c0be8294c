import keras
import numpy as np
import pytest

from lcnet_tf.flops import model_gates
from lcnet_tf.models import cifar_resnet
from lcnet_tf.training import ThresholdJitter
from tests.fixtures import fit_on_random_images
from tests.fixtures import random_images


class _Record(keras.callbacks.Callback):
    """Reads every gate's threshold inside each training step."""

    def __init__(self):
        super().__init__()
        self.taus = []

    def on_train_batch_begin(self, batch, logs=None):
        self.taus.append(
            [float(gate.threshold.numpy()) for gate in model_gates(self.model)]
        )


def test_each_step_draws_one_threshold_for_every_gate_then_restores():
    model = cifar_resnet(8, gating="lc", input_shape=(8, 8, 3), tau=0.7)
    record = _Record()
    fit_on_random_images(
        model, [ThresholdJitter(0.1, 0.4, seed=3), record], learning_rate=0.0
    )
    taus = np.array(record.taus)
    assert taus.shape[0] == 8 and taus.shape[1] > 1
    # One draw per step, shared by every gate, inside [low, high].
    np.testing.assert_allclose(taus, taus[:, :1] * np.ones_like(taus))
    assert np.all((taus >= 0.1) & (taus <= 0.4))
    assert len(np.unique(taus[:, 0])) == 8
    # The model keeps its own threshold (and its config) after fit.
    for gate in model_gates(model):
        assert gate.tau == pytest.approx(0.7)
        assert gate.get_config()["tau"] == pytest.approx(0.7)


def test_training_routes_at_the_drawn_threshold():
    # At threshold 0 every gate opens during training, whatever the
    # model's own threshold, so the training FLOPs are the open ones;
    # evaluation uses the model's own (1.0: every skippable block shut).
    model = cifar_resnet(8, gating="l", input_shape=(8, 8, 3), tau=1.0)
    history = fit_on_random_images(model, [ThresholdJitter(0.0, 0.0)], epochs=1)
    assert history.history["flops_ratio"][-1] > 1.0
    shut = model.evaluate(
        random_images(n=8, size=8),
        np.zeros(8, np.int32),
        verbose=0,
        return_dict=True,
    )["flops_ratio"]
    assert shut < 0.8


@pytest.mark.parametrize(
    "low, high, match",
    [(0.6, 0.4, "must not exceed"), (-0.1, 0.5, "tau"), (0.2, 1.5, "tau")],
)
def test_bad_ranges_are_refused(low, high, match):
    with pytest.raises(ValueError, match=match):
        ThresholdJitter(low, high)


def test_a_model_without_gates_is_refused():
    model = cifar_resnet(8, input_shape=(8, 8, 3))
    with pytest.raises(ValueError, match="no gates"):
        fit_on_random_images(model, [ThresholdJitter(0.1, 0.4)], epochs=1)


def test_draws_follow_the_optimizer_step_so_a_resumed_fit_repeats_them():
    first, second = _Record(), _Record()
    model = cifar_resnet(8, gating="l", input_shape=(8, 8, 3))
    fit_on_random_images(model, [ThresholdJitter(0.0, 1.0, seed=5), first])
    model = cifar_resnet(8, gating="l", input_shape=(8, 8, 3))
    fit_on_random_images(
        model, [ThresholdJitter(0.0, 1.0, seed=5), second], epochs=1
    )
    # The second fit continues from step 4: the draws of the first's
    # second epoch.
    fit_on_random_images(
        model,
        [ThresholdJitter(0.0, 1.0, seed=5), second],
        epochs=1,
        compile=False,
    )
    np.testing.assert_allclose(first.taus, second.taus)
