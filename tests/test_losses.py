import numpy as np
import pytest
import tensorflow as tf

from lcnet_tf.losses import BudgetLoss
from lcnet_tf.losses import budget_loss


def test_value_and_gradient_direction():
    ratio = tf.Variable([0.9, 0.7])
    with tf.GradientTape() as tape:
        loss = budget_loss(ratio, target=0.5, weight=3.0)
    np.testing.assert_allclose(loss, 3.0 * 0.3**2, rtol=1e-6)
    # Above the target the gradient pushes every ratio down.
    assert np.all(np.asarray(tape.gradient(loss, ratio)) > 0)
    np.testing.assert_allclose(budget_loss([0.5, 0.5], 0.5, 3.0), 0.0)


@pytest.mark.parametrize("target", [0, -0.5, 1.01, float("inf"), "x"])
def test_bad_target(target):
    with pytest.raises(ValueError, match="target"):
        BudgetLoss(target=target)


def test_bad_weight_and_config():
    with pytest.raises(ValueError, match="weight"):
        BudgetLoss(weight=-1)
    loss = BudgetLoss(target=1.0, weight=0.5)
    clone = BudgetLoss.from_config(loss.get_config())
    assert clone.get_config() == {"target": 1.0, "weight": 0.5}
    np.testing.assert_allclose(clone(tf.constant([0.0, 1.0])), 0.125)
