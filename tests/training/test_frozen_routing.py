import keras
import numpy as np
import pytest
import tensorflow as tf

from lcnet_tf.flops import flops_per_image
from lcnet_tf.layers import GateRegularizer
from lcnet_tf.models import cifar_resnet
from lcnet_tf.models import set_budget
from lcnet_tf.training import gate_decisions
from lcnet_tf.training.frozen_routing import fix_gates
from lcnet_tf.training.frozen_routing import freeze_routing
from lcnet_tf.training.frozen_routing import learn_frozen_scales
from lcnet_tf.training.frozen_routing import most_frequent_routing
from lcnet_tf.training.frozen_routing import release_routing
from lcnet_tf.training.gate_decisions import block_inputs_model
from tests.fixtures import random_images
from tests.fixtures import randomize_gates


def _model(**gate_fields):
    model = cifar_resnet(
        14, gating="lc", input_shape=(8, 8, 3), channel_groups=8, **gate_fields
    )
    randomize_gates(model, seed=2, scale=0.5)
    return model


def test_most_frequent_routing_is_the_mode_of_the_decisions():
    model = _model()
    images = random_images(n=64, size=8)
    routing, share = most_frequent_routing(model, images)
    decisions = gate_decisions(model, images)
    same = np.ones(64, bool)
    for name, part in decisions.items():
        same &= part["run"] == routing[name]["run"]
        same &= (part["channels"] == routing[name]["channels"]).all(axis=1)
    assert share == same.mean() > 0


def test_frozen_model_routes_every_image_alike_and_keeps_the_scale():
    model = _model()
    images = random_images(n=64, size=8)
    routing, share = most_frequent_routing(model, images)
    block = model.get_layer("stage2_block2")
    features = block_inputs_model(model, [block]).predict(images, verbose=0)
    gate = block.channel_gate
    hidden = gate.hidden(features.mean(axis=(1, 2)))
    pre_activation = np.asarray(gate.scale_logits(hidden)).mean(axis=0)
    freeze_routing(model, routing, images)
    flops = flops_per_image(model, images)
    assert len(set(flops)) == 1
    frozen = gate_decisions(model, images * 5.0)
    for name, part in frozen.items():
        assert (part["run"] == routing[name]["run"]).all()
    gates = [g for b in model.layers if hasattr(b, "gates") for g in b.gates]
    assert gates and not any(g.trainable for g in gates)
    # The learned scale is now a constant: the scale of the mean
    # pre-activation over the images.
    scale = np.asarray(gate(features)[1])
    np.testing.assert_allclose(
        scale,
        np.broadcast_to(
            np.repeat(2 / (1 + np.exp(-pre_activation)), gate.groups),
            scale.shape,
        ),
        rtol=1e-5,
    )


def test_unit_scales_make_every_learned_scale_one():
    model = _model()
    images = random_images(n=32, size=8)
    routing, _ = most_frequent_routing(model, images)
    freeze_routing(model, routing, images, unit_scales=True)
    blocks = [b for b in model.layers if hasattr(b, "gates") and b.gates]
    features = block_inputs_model(model, blocks).predict(images, verbose=0)
    for block, x in zip(blocks, features):
        for gate in block.gates:
            np.testing.assert_allclose(np.asarray(gate(x)[1]), 1.0, 1e-6)


def test_learned_frozen_scales_train_per_image_on_one_routing():
    model = _model()
    images = random_images(n=32, size=8)
    routing, _ = most_frequent_routing(model, images)
    freeze_routing(model, routing, unit_scales=True)
    learn_frozen_scales(model)
    gates = [g for b in model.layers if hasattr(b, "gates") for g in b.gates]
    keep = {g.path: np.array(g.keep_logits.kernel) for g in gates}
    model.compile(
        keras.optimizers.SGD(0.5),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(images, np.arange(32) % 10, epochs=2, verbose=0)
    # The routing stays that of every image alike.
    for name, part in gate_decisions(model, images * 3.0).items():
        assert (part["run"] == routing[name]["run"]).all()
    assert len(set(flops_per_image(model, images))) == 1
    for gate in gates:
        np.testing.assert_array_equal(
            keep[gate.path], np.array(gate.keep_logits.kernel)
        )
    # The scales of a block that runs, all 1 before, now differ from 1
    # and between images.
    name = next(
        name
        for name, part in routing.items()
        if part["run"] and part["channels"].any()
    )
    block = model.get_layer(name)
    features = block_inputs_model(model, [block]).predict(images, verbose=0)
    scale = np.asarray(block.channel_gate(features)[1])
    assert np.abs(scale - 1.0).max() > 1e-4
    assert np.ptp(scale, axis=0).max() > 1e-6


def test_learn_frozen_scales_needs_learned_scales():
    model = _model(scale="none")
    routing, _ = most_frequent_routing(model, random_images(n=8, size=8))
    freeze_routing(model, routing)
    with pytest.raises(ValueError, match="no learned scales"):
        learn_frozen_scales(model)


def test_routing_must_cover_every_block():
    model = _model()
    with pytest.raises(ValueError, match="no decisions"):
        freeze_routing(model, {})


def test_fixed_gates_decide_as_in_inference_and_only_the_body_learns():
    model = _model(
        noise_std=2.0,
        gate_regularizer=GateRegularizer(bounds_weight=5.0, shaping_weight=5.0),
    )
    images = random_images(n=32, size=8)
    gates = [g for b in model.layers if hasattr(b, "gates") for g in b.gates]
    # Before: noise makes training-mode decisions differ from inference,
    # and the regularizer and budget add losses.
    model(images, training=True)
    assert float(keras.ops.sum(model.losses)) > 0
    fix_gates(model)
    model(images, training=True)
    set_budget(model, weight=0.0)
    model(images, training=True)
    # With the budget's weight at 0, no loss is left: the regularizer
    # adds none.
    assert float(keras.ops.sum(model.losses)) == 0.0
    blocks = [b for b in model.layers if hasattr(b, "gates") and b.gates]
    features = block_inputs_model(model, blocks).predict(images, verbose=0)
    for block, x in zip(blocks, features):
        for gate in block.gates:
            trained = np.asarray(gate(x, training=True)[0])
            np.testing.assert_array_equal(trained, np.asarray(gate(x)[0]))
    before = {g.path: [np.array(w) for w in g.weights] for g in gates}
    body = [np.array(w) for w in model.get_layer("stem_conv").weights]
    model.compile(
        keras.optimizers.SGD(0.1),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(images, np.arange(32) % 10, epochs=1, verbose=0)
    for gate in gates:
        for old, new in zip(before[gate.path], gate.weights):
            np.testing.assert_array_equal(old, np.array(new))
    assert any(
        not np.array_equal(old, np.array(new))
        for old, new in zip(body, model.get_layer("stem_conv").weights)
    )


def test_fixed_gates_can_keep_a_regularizer_that_shapes_the_body():
    model = _model(gate_regularizer=GateRegularizer(bounds_weight=1.0))
    images = keras.ops.convert_to_tensor(random_images(n=32, size=8))
    kept = GateRegularizer(
        low=0.4, high=0.6, bounds_weight=50.0, channel_gates=False
    )
    fix_gates(model, kept)
    set_budget(model, weight=0.0)
    gates = [g for b in model.layers if hasattr(b, "gates") for g in b.gates]
    assert all(g.regularizer is kept and not g.trainable for g in gates)
    stem = model.get_layer("stem_conv").kernel
    with tf.GradientTape() as tape:
        model(images, training=True)
        loss = keras.ops.sum(model.losses)
    # Bounds of [0.4, 0.6] on gates whose keep rates lie elsewhere: a
    # loss, and its gradient reaches the body through the fixed gates.
    assert float(loss) > 0
    grad = tape.gradient(loss, stem)
    assert float(keras.ops.max(keras.ops.abs(grad))) > 0
    assert not any(v.trainable for g in gates for v in g.weights)


def test_a_kept_regularizer_needs_regularized_gates():
    model = cifar_resnet(8, gating="lc", input_shape=(8, 8, 3))
    with pytest.raises(ValueError, match="trained with a regularizer"):
        fix_gates(model, GateRegularizer(bounds_weight=1.0))


def test_fix_gates_needs_gates():
    with pytest.raises(ValueError, match="not gated"):
        fix_gates(cifar_resnet(8, input_shape=(8, 8, 3)))


def _frozen(tmp_path):
    """A frozen routing saved and loaded, as a frozen row's model is."""
    from lcnet_tf.models import load_model

    model = _model(gate_regularizer=GateRegularizer(bounds_weight=1.0))
    images = random_images(n=32, size=8)
    routing, _ = most_frequent_routing(model, images)
    freeze_routing(model, routing, images)
    path = str(tmp_path / "frozen.keras")
    model.save(path)
    return load_model(path), routing, images


def test_released_gates_start_from_the_frozen_routing_and_learn(tmp_path):
    model, routing, images = _frozen(tmp_path)
    gates = [g for b in model.layers if hasattr(b, "gates") for g in b.gates]
    release_routing(model, noise_std=0.5)
    assert all(g.trainable and g.noise_std == 0.5 for g in gates)
    # Every image still takes the frozen routing...
    for name, part in gate_decisions(model, images * 3.0).items():
        assert (part["run"] == routing[name]["run"]).all()
        assert (part["channels"] == routing[name]["channels"]).all()
    # ...but the keep logits are back where the budget's gradient reaches
    # them (every block gate's; a skipped block's channel gates get none).
    set_budget(model, target=0.1, weight=10.0)
    logits = [g.keep_logits for g in gates]
    block_gates = [b.block_gate for b in model.layers if hasattr(b, "gates")]
    block_gates = [g for g in block_gates if g is not None]
    with tf.GradientTape() as tape:
        model(keras.ops.convert_to_tensor(images), training=True)
        loss = keras.ops.sum(model.losses)
    grads = tape.gradient(loss, [g.keep_logits.bias for g in block_gates])
    assert block_gates
    assert all(float(keras.ops.max(keras.ops.abs(g))) > 0 for g in grads)
    before = [np.array(layer.kernel) for layer in logits]
    model.compile(
        keras.optimizers.SGD(0.1),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(images, np.arange(32) % 10, epochs=1, verbose=0)
    assert any(
        not np.array_equal(old, np.array(layer.kernel))
        for old, layer in zip(before, logits)
    )


def test_released_gates_take_the_given_regularizer(tmp_path):
    model, _, _ = _frozen(tmp_path)
    kept = GateRegularizer(low=0.0, high=0.9, bounds_weight=5.0)
    release_routing(model, regularizer=kept)
    gates = [g for b in model.layers if hasattr(b, "gates") for g in b.gates]
    assert all(g.regularizer is kept and g.noise_std == 0.0 for g in gates)


def test_release_needs_a_frozen_routing():
    with pytest.raises(ValueError, match="no frozen routing.*per image"):
        release_routing(_model())
    with pytest.raises(ValueError, match="no frozen routing.*no gates"):
        release_routing(cifar_resnet(8, input_shape=(8, 8, 3)))


def test_release_refuses_negative_noise(tmp_path):
    model, _, _ = _frozen(tmp_path)
    with pytest.raises(ValueError, match="noise_std"):
        release_routing(model, noise_std=-1.0)
