import json

import keras
import numpy as np
import pytest

from lcnet_tf import flops
from lcnet_tf.models import cifar_resnet
from lcnet_tf.models import init_from_static
from lcnet_tf.models import kept_thresholds
from lcnet_tf.models import load_model
from lcnet_tf.models import set_budget
from lcnet_tf.models import set_threshold
from tests.fixtures import random_images
from tests.fixtures import warm_up_batch_norm


@pytest.mark.parametrize(
    "gating, gated",
    [("none", 0), ("l", 7), ("c", 9), ("lc", 9), ("aig", 7)],
)
def test_structure(gating, gated):
    model = cifar_resnet(20, gating=gating)
    assert model.output.shape == (None, 10)
    assert len(flops.gated_blocks(model)) == gated
    assert model.name == (
        "resnet20" if gating == "none" else f"{gating}_resnet20"
    )
    assert (model.layers[-1].name == "flops_budget") == (gating != "none")


@pytest.mark.parametrize("depth", [21, 0, 19.0, "20"])
def test_bad_depth(depth):
    with pytest.raises(ValueError, match="depth"):
        cifar_resnet(depth)


def test_bad_gating_scale_target():
    with pytest.raises(ValueError, match="gating"):
        cifar_resnet(8, gating="cl")
    with pytest.raises(ValueError, match="scale"):
        cifar_resnet(8, gating="l", scale="ones")
    with pytest.raises(ValueError, match="target"):
        cifar_resnet(8, gating="l", budget_target=0.0)
    with pytest.raises(ValueError, match="tau"):
        cifar_resnet(8, gating="l", tau=-1)


@pytest.mark.parametrize("gating", ["l", "c", "lc", "aig"])
def test_gated_model_from_static_matches_it(gating):
    static = cifar_resnet(8)
    x = random_images(4)
    warm_up_batch_norm(static, x)
    gated = init_from_static(cifar_resnet(8, gating=gating), static)
    # Equal up to float reassociation in the compiled graphs.
    np.testing.assert_allclose(
        gated.predict(x, verbose=0),
        static.predict(x, verbose=0),
        rtol=1e-5,
        atol=1e-5,
    )


@pytest.mark.parametrize("gating", ["lc", "aig"])
def test_static_layers_are_a_static_network_layer_for_layer(gating):
    from lcnet_tf.models.static_init import static_layers

    def network(model):
        return [
            (part.name, [tuple(w.shape) for w in part.weights])
            for layer in model.layers
            for part in static_layers(layer)
        ]

    gated = cifar_resnet(8, gating=gating)
    static = cifar_resnet(8)
    assert network(gated) == network(static)
    # No gate weight is in it, and every other weight is.
    kept = {
        id(w)
        for layer in gated.layers
        for part in static_layers(layer)
        for w in part.weights
    }
    gates = {
        id(w)
        for block in flops.gated_blocks(gated)
        for gate in block.gates
        for w in gate.weights
    }
    budget = {id(w) for w in gated.get_layer("flops_budget").weights}
    assert gates and not kept & gates
    assert kept | gates | budget == {id(w) for w in gated.weights}


def test_init_from_mismatched_static_fails():
    with pytest.raises(ValueError, match="does not match|no layer"):
        init_from_static(cifar_resnet(8, gating="l"), cifar_resnet(14))


def test_save_load_round_trip_keeps_outputs_and_threshold(tmp_path):
    model = cifar_resnet(8, gating="lc", scale="gate", channel_groups=2)
    x = random_images(4)
    warm_up_batch_norm(model, x)
    set_threshold(model, 0.7)
    set_budget(model, target=0.3, weight=1.5)
    expected = model.predict(x, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), expected)
    taus = [g.tau for b in flops.gated_blocks(loaded) for g in b.gates]
    np.testing.assert_allclose(taus, 0.7)
    assert loaded.layers[-1].target == pytest.approx(0.3)
    # Compared as JSON: the saved config turns tuples into lists.
    assert json.dumps(loaded.get_config()) == json.dumps(model.get_config())


def test_threshold_changes_compiled_predictions_without_rebuild():
    model = cifar_resnet(8, gating="l")
    x = random_images(4)
    open_logits = model.predict(x, verbose=0)
    set_threshold(model, 1.0)
    closed_logits = model.predict(x, verbose=0)
    assert not np.allclose(open_logits, closed_logits)
    assert flops.flops_per_image(model, x).max() < flops.count_flops(model)
    set_threshold(model, 0.5)
    np.testing.assert_array_equal(model.predict(x, verbose=0), open_logits)
    with pytest.raises(ValueError, match="tau"):
        set_threshold(model, 1.1)
    with pytest.raises(ValueError, match="no channel gates"):
        set_threshold(model, 0.5, kind="channel")
    with pytest.raises(ValueError, match="not gated"):
        set_budget(cifar_resnet(8), target=0.5)


def test_kept_thresholds_puts_each_gate_back_even_after_an_error():
    model = cifar_resnet(8, gating="lc")
    set_threshold(model, 0.3, kind="block")
    set_threshold(model, 0.6, kind="channel")

    def taus():
        return [g.tau for b in flops.gated_blocks(model) for g in b.gates]

    own = taus()
    assert sorted(set(own)) == pytest.approx([0.3, 0.6])
    with kept_thresholds(model):
        set_threshold(model, 0.9)
        assert taus() == pytest.approx([0.9] * len(own))
    assert taus() == pytest.approx(own)
    with pytest.raises(RuntimeError, match="export failed"):
        with kept_thresholds(model):
            set_threshold(model, 0.0)
            raise RuntimeError("export failed")
    assert taus() == pytest.approx(own)
    # A static model has no thresholds to keep.
    with kept_thresholds(cifar_resnet(8)) as static:
        assert static.name


def test_compile_fit_evaluate_predict_logs_gate_metrics():
    model = cifar_resnet(8, gating="lc", noise_std=1.0, seed=0)
    model.compile(
        keras.optimizers.SGD(0.05, momentum=0.9),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    x = random_images(32)
    y = np.arange(32) % 10
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    for key in ("loss", "accuracy", "flops_ratio", "keep_stage1_block1"):
        assert len(history.history[key]) == 2
    report = model.evaluate(x, y, verbose=0, return_dict=True)
    assert 0 < report["flops_ratio"] <= 1.01
    assert model.predict(x, verbose=0).shape == (32, 10)


def test_wrong_input_shape_is_rejected():
    model = cifar_resnet(8)
    with pytest.raises(ValueError, match="incompatible"):
        model.predict(random_images(2, size=28), verbose=0)
