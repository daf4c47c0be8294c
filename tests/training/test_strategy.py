import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from lcnet_tf.layers import flops_budget
from lcnet_tf.models import cifar_resnet
from lcnet_tf.training import TrainConfig
from lcnet_tf.training import compile_model
from lcnet_tf.training.model_builder import use_synchronized_batch_norm
from lcnet_tf.training.strategy import is_chief
from lcnet_tf.training.strategy import make_strategy
from lcnet_tf.training.strategy import parse_tf_config
from tests.fixtures import random_images
from tests.fixtures import randomize_gates


def _fit(strategy, initial, images, labels, sync_bn=True):
    with strategy.scope():
        model = cifar_resnet(
            8, gating="lc", budget_target=0.2, budget_weight=20.0
        )
        if sync_bn:
            use_synchronized_batch_norm(model)
        compile_model(model, keras.optimizers.SGD(0.05))
    model.set_weights(initial)
    data = tf.data.Dataset.from_tensor_slices((images, labels)).batch(8)
    history = model.fit(data, epochs=2, verbose=0, shuffle=False)
    return [np.array(w) for w in model.get_weights()], history.history


@pytest.fixture(scope="module")
def mirrored():
    return make_strategy("mirrored", cpu_replicas=2)


@pytest.fixture(scope="module")
def problem():
    keras.utils.set_random_seed(7)
    model = cifar_resnet(8, gating="lc")
    randomize_gates(model, seed=2, scale=1.0)
    images = random_images(32, seed=4)
    labels = np.random.default_rng(0).integers(0, 10, 32)
    return model.get_weights(), images, labels


def _max_rel_diff(a, b):
    return max(
        float(np.max(np.abs(x - y)) / (np.max(np.abs(x)) + 1e-6))
        for x, y in zip(a, b)
    )


def test_two_replicas_match_one_at_the_same_global_batch(problem, mirrored):
    initial, images, labels = problem
    one, h1 = _fit(tf.distribute.get_strategy(), initial, images, labels)
    two, h2 = _fit(mirrored, initial, images, labels)
    assert _max_rel_diff(one, two) < 1e-4
    # Metrics aggregate over the global batch too.
    np.testing.assert_allclose(h1["flops_ratio"], h2["flops_ratio"], 1e-5)
    assert h1["flops_ratio"][0] != h1["flops_ratio"][1]  # gates trained


def test_per_replica_budget_means_would_differ(problem, mirrored, monkeypatch):
    """Shows the test above can fail: the budget needs the global mean."""
    initial, images, labels = problem
    one, _ = _fit(tf.distribute.get_strategy(), initial, images, labels)
    monkeypatch.setattr(flops_budget, "_global_mean", lambda value: value)
    two, _ = _fit(mirrored, initial, images, labels)
    assert _max_rel_diff(one, two) > 1e-3


def test_unsynchronized_batch_norm_differs(problem, mirrored):
    initial, images, labels = problem
    one, _ = _fit(tf.distribute.get_strategy(), initial, images, labels)
    two, _ = _fit(mirrored, initial, images, labels, sync_bn=False)
    assert _max_rel_diff(one, two) > 1e-3


def test_make_strategy():
    assert make_strategy("default").num_replicas_in_sync == 1
    strategy = make_strategy("mirrored", cpu_replicas=2)
    assert strategy is make_strategy("mirrored", cpu_replicas=2)
    assert strategy.num_replicas_in_sync == 2
    assert is_chief(strategy)
    with pytest.raises(ValueError, match="strategy"):
        make_strategy("tpu_pod")
    with pytest.raises(ValueError, match="strategy"):
        TrainConfig(strategy="parameter_server")


@pytest.mark.parametrize(
    "text, match",
    [
        ("", "needs TF_CONFIG"),
        ("{not json", "not valid JSON"),
        ('{"task": {"type": "worker", "index": 0}}', "'cluster'"),
        (
            '{"cluster": {"worker": ["localhost"]}, '
            '"task": {"type": "worker", "index": 0}}',
            "host:port",
        ),
        (
            '{"cluster": {"worker": ["a:1", "b:2"]}, '
            '"task": {"type": "worker", "index": 2}}',
            "out of range",
        ),
        (
            '{"cluster": {"worker": ["a:1"]}, "task": {"type": "ps"}}',
            "task must be",
        ),
    ],
)
def test_malformed_tf_config(text, match):
    with pytest.raises(ValueError, match=match):
        parse_tf_config(text)


def test_tf_config_with_chief():
    workers, task_type, index = parse_tf_config(
        json.dumps(
            {
                "cluster": {"chief": ["h0:1"], "worker": ["h1:2", "h2:3"]},
                "task": {"type": "worker", "index": 1},
            }
        )
    )
    assert workers == ["h0:1", "h1:2", "h2:3"]
    assert (task_type, index) == ("worker", 1)
