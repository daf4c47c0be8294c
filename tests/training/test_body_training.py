import keras
import numpy as np
import pytest

from lcnet_tf.models import cifar_resnet
from lcnet_tf.training.body_training import body_layers
from lcnet_tf.training.body_training import set_body_trainable
from tests.fixtures import random_images


def _model():
    return cifar_resnet(8, gating="lc", input_shape=(8, 8, 3), channel_groups=4)


def test_the_body_is_every_weight_but_the_gates_and_the_budget():
    model = _model()
    body = {w.path for layer in body_layers(model) for w in layer.weights}
    gates = {
        w.path
        for block in model.layers
        for gate in getattr(block, "gates", [])
        for w in gate.weights
    }
    assert gates and body and not body & gates
    budget = {w.path for w in model.get_layer("flops_budget").weights}
    assert body | gates | budget == {w.path for w in model.weights}


def test_a_held_body_does_not_learn_while_the_gates_do():
    model = _model()
    assert set_body_trainable(model, False) == len(body_layers(model))
    body = [np.array(w) for w in model.weights if "gate" not in w.path]
    gates = [np.array(w) for w in model.weights if "gate" in w.path]
    model.compile(
        keras.optimizers.SGD(0.5),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    images = random_images(n=32, size=8)
    model.fit(images, np.arange(32) % 10, epochs=2, verbose=0)
    after = [np.array(w) for w in model.weights if "gate" not in w.path]
    for old, new in zip(body, after):
        # Batch-norm statistics too: a held batch norm normalises with
        # its moving statistics and does not update them.
        np.testing.assert_array_equal(old, new)
    moved = [np.array(w) for w in model.weights if "gate" in w.path]
    assert any(not np.array_equal(a, b) for a, b in zip(gates, moved))
    set_body_trainable(model, True)
    assert all(layer.trainable for layer in body_layers(model))


def test_a_static_model_has_no_body_to_tell_apart():
    with pytest.raises(ValueError, match="no gates"):
        body_layers(cifar_resnet(8, gating="none", input_shape=(8, 8, 3)))
