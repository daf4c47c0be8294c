import keras
import numpy as np
import pytest

from lcnet_tf.layers import AigGate
from lcnet_tf.models import cifar_resnet
from lcnet_tf.training import BatchNormRecalibration
from lcnet_tf.training import recalibrate_batch_norm
from lcnet_tf.training.batch_norm_recalibration import deterministic_gates
from tests.fixtures import random_images


def _norms(model):
    return [
        layer
        for layer in model._flatten_layers(include_self=False)
        if isinstance(layer, keras.layers.BatchNormalization)
    ]


def test_moving_statistics_become_the_mean_of_batch_statistics():
    model = cifar_resnet(8, input_shape=(8, 8, 3))
    images = random_images(n=12, size=8) * 3.0 + 1.0
    count = recalibrate_batch_norm(model, images, num_batches=3, batch_size=4)
    norms = _norms(model)
    assert count == len(norms) == 9
    # The stem's batch norm reads the stem convolution directly: its
    # recalibrated mean is the mean of the three batch means.
    stem = model.get_layer("stem_bn")
    conv = model.get_layer("stem_conv")
    means = [
        np.asarray(conv(images[i : i + 4])).mean(axis=(0, 1, 2))
        for i in (0, 4, 8)
    ]
    np.testing.assert_allclose(
        stem.moving_mean.numpy(), np.mean(means, 0), rtol=1e-4, atol=1e-5
    )
    # Momentum is restored for training.
    assert all(layer.momentum == 0.99 for layer in norms)


def test_gates_do_not_sample_inside_deterministic_gates():
    images = random_images(n=8, size=8)
    inputs = keras.Input((8, 8, 3))
    gate = AigGate(init_keep_logit=0.0)
    model = keras.Model(inputs, gate(inputs)[0])
    with deterministic_gates(model):
        decisions = [np.asarray(gate(images, training=True)[0]) for _ in "ab"]
    np.testing.assert_array_equal(decisions[0], decisions[1])
    assert gate.sampling
    sampled = [np.asarray(gate(images, training=True)[0]) for _ in range(8)]
    assert len({d.tobytes() for d in sampled}) > 1


def test_bad_arguments():
    model = cifar_resnet(8, input_shape=(8, 8, 3))
    with pytest.raises(ValueError, match="num_batches"):
        recalibrate_batch_norm(model, random_images(size=8), num_batches=0)
    with pytest.raises(ValueError, match="no batch"):
        recalibrate_batch_norm(model, random_images(size=8)[:0])
    with pytest.raises(ValueError, match="batch_size"):
        BatchNormRecalibration(random_images(size=8), batch_size=0)


def test_callback_recalibrates_before_validation_and_at_the_end():
    model = cifar_resnet(8, input_shape=(8, 8, 3), num_classes=2)
    model.compile("sgd", "sparse_categorical_crossentropy")
    images = random_images(n=16, size=8) * 2.0 + 0.5
    labels = np.arange(16) % 2
    callback = BatchNormRecalibration(images, num_batches=2, batch_size=8)
    calls = []
    original = callback._recalibrate
    callback._recalibrate = lambda: (calls.append(1), original())
    model.fit(
        images,
        labels,
        epochs=2,
        batch_size=8,
        validation_data=(images, labels),
        callbacks=[callback],
        verbose=0,
    )
    # Once per epoch, before its validation; nothing stale at the end.
    assert len(calls) == 2
    expected = cifar_resnet(8, input_shape=(8, 8, 3), num_classes=2)
    expected.set_weights(model.get_weights())
    recalibrate_batch_norm(expected, images, num_batches=2, batch_size=8)
    for got, want in zip(_norms(model), _norms(expected)):
        np.testing.assert_allclose(
            got.moving_variance.numpy(), want.moving_variance.numpy(), 1e-5
        )
