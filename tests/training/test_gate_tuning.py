import keras
import numpy as np
import pytest

from lcnet_tf.flops import gated_blocks
from lcnet_tf.layers import GateRegularizer
from lcnet_tf.models import cifar_resnet
from lcnet_tf.models import load_model
from lcnet_tf.training import TrainConfig
from lcnet_tf.training import build_model
from lcnet_tf.training import set_body_trainable
from lcnet_tf.training import tune_gates
from lcnet_tf.training.body_training import body_layers
from lcnet_tf.training.frozen_routing import fix_gates
from lcnet_tf.training.frozen_routing import freeze_routing
from lcnet_tf.training.frozen_routing import learn_frozen_scales
from lcnet_tf.training.frozen_routing import most_frequent_routing
from lcnet_tf.training.gate_decisions import gate_decisions
from tests.fixtures import random_images
from tests.fixtures import randomize_gates


def _saved(tmp_path, model, name="model.keras"):
    path = str(tmp_path / name)
    model.save(path)
    return path


def _fixed_row(tmp_path):
    """A fixed-gates row's model, saved and loaded as a row's is."""
    model = cifar_resnet(
        14,
        gating="lc",
        input_shape=(8, 8, 3),
        channel_groups=8,
        gate_regularizer=GateRegularizer(bounds_weight=1.0),
    )
    randomize_gates(model, seed=2, scale=0.5)
    fix_gates(model)
    return _saved(tmp_path, model)


def _gates(model):
    return [gate for block in gated_blocks(model) for gate in block.gates]


def _fit(model, images, epochs=2):
    model.compile(
        keras.optimizers.SGD(0.5),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(images, np.arange(len(images)) % 10, epochs=epochs, verbose=0)


def _body_weights(model):
    # Batch-norm moving statistics included: a held body normalises as
    # in inference and must not update them.
    return [
        np.array(weight)
        for layer in body_layers(model)
        for weight in layer.weights
    ]


def test_tuned_gates_learn_on_the_held_body(tmp_path):
    model = tune_gates(load_model(_fixed_row(tmp_path)), noise_std=0.25)
    set_body_trainable(model, False)
    gates = _gates(model)
    assert all(g.trainable and g.sampling for g in gates)
    assert all(g.noise_std == 0.25 for g in gates)
    body = _body_weights(model)
    before = {
        g.path: [np.array(w) for w in (g.keep_logits.kernel, g.hidden.kernel)]
        for g in gates
    }
    _fit(model, random_images(n=32, size=8))
    for old, new in zip(body, _body_weights(model)):
        np.testing.assert_array_equal(old, new)
    changed = [
        g.path
        for g in gates
        if not np.array_equal(before[g.path][0], np.array(g.keep_logits.kernel))
        and not np.array_equal(before[g.path][1], np.array(g.hidden.kernel))
    ]
    assert changed


def test_tuning_a_frozen_routing_keeps_it_and_trains_its_scales(tmp_path):
    model = cifar_resnet(
        14, gating="lc", input_shape=(8, 8, 3), channel_groups=8
    )
    randomize_gates(model, seed=2, scale=0.5)
    images = random_images(n=32, size=8)
    routing, _ = most_frequent_routing(model, images)
    freeze_routing(model, routing, unit_scales=True)
    learn_frozen_scales(model)
    model = tune_gates(load_model(_saved(tmp_path, model)))
    set_body_trainable(model, False)
    gates = _gates(model)
    assert not any(g.keep_logits.trainable for g in gates)
    keep = {g.path: np.array(g.keep_logits.bias) for g in gates}
    scales = {g.path: np.array(g.scale_logits.bias) for g in gates}
    _fit(model, images)
    for name, part in gate_decisions(model, images * 3.0).items():
        assert (part["run"] == routing[name]["run"]).all()
    for gate in gates:
        np.testing.assert_array_equal(
            keep[gate.path], np.array(gate.keep_logits.bias)
        )
    assert any(
        not np.array_equal(scales[g.path], np.array(g.scale_logits.bias))
        for g in gates
    )


def test_tune_gates_takes_the_given_regularizer_or_turns_it_off(tmp_path):
    kept = GateRegularizer(bounds_weight=3.0)
    model = tune_gates(load_model(_fixed_row(tmp_path)), regularizer=kept)
    assert all(g.regularizer is kept for g in _gates(model))
    model = tune_gates(load_model(_fixed_row(tmp_path)))
    assert all(g.regularizer.bounds_weight == 0.0 for g in _gates(model))


def test_tune_gates_needs_gates_and_refuses_negative_noise(tmp_path):
    with pytest.raises(ValueError, match="no gates to tune"):
        tune_gates(cifar_resnet(8, input_shape=(8, 8, 3)))
    with pytest.raises(ValueError, match="noise_std"):
        tune_gates(load_model(_fixed_row(tmp_path)), noise_std=-1.0)


def test_config_builds_a_tuned_model_with_its_body_held(tmp_path):
    path = _fixed_row(tmp_path)
    config = TrainConfig(
        tune_gates_from=path,
        train_body=False,
        noise_std=0.5,
        budget_target=0.4,
        budget_weight=3.0,
    )
    model = build_model(config)
    assert all(not layer.trainable for layer in body_layers(model))
    gates = _gates(model)
    assert all(g.trainable and g.noise_std == 0.5 for g in gates)
    budget = model.get_layer("flops_budget")
    assert budget.target == pytest.approx(0.4)


@pytest.mark.parametrize(
    "field, value",
    [
        ("fix_gates_from", "x.keras"),
        ("freeze_routing_from", "x.keras"),
        ("release_routing_from", "x.keras"),
        ("init_from", "x.keras"),
        ("gating", "none"),
    ],
)
def test_config_refuses_tuning_with_other_starting_weights(field, value):
    with pytest.raises(ValueError, match=f"tune_gates_from.*{field}"):
        TrainConfig(tune_gates_from="model.keras", **{field: value})
