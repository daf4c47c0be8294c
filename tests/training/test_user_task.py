"""A user's own task: other image size, channels and class count, fitted
from scratch with a plain `model.fit`."""

import keras
import numpy as np

from benchmarks.train_eval_agreement import user_task_arrays
from lcnet_tf.models import cifar_resnet
from lcnet_tf.training import BatchNormRecalibration
from lcnet_tf.training import decision_agreement
from lcnet_tf.training import evaluate_model


def test_brief_fit_decides_alike_in_training_and_inference(cifar10_dir):
    images, labels = user_task_arrays(cifar10_dir, num_images=640, size=24)
    assert images.shape == (640, 24, 24, 1) and set(labels) == {0, 1}
    x_train, y_train = images[:512], labels[:512]
    keras.utils.set_random_seed(0)
    model = cifar_resnet(
        14,
        gating="lc",
        num_classes=2,
        input_shape=(24, 24, 1),
        budget_target=0.6,
        budget_weight=8.0,
    )
    model.compile(
        keras.optimizers.SGD(0.05, momentum=0.9),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = model.fit(
        x_train,
        y_train,
        batch_size=32,
        epochs=3,
        validation_data=(images[512:], labels[512:]),
        callbacks=[BatchNormRecalibration(x_train, batch_size=32)],
        verbose=0,
    ).history
    report = decision_agreement(model, x_train, batch_size=32)
    assert report["agreement"] >= 0.95, report
    assert (
        abs(report["flops_ratio_inference"] - report["flops_ratio_training"])
        < 0.05
    ), report
    # The budget asked for is what inference costs.
    assert abs(report["flops_ratio_inference"] - 0.6) < 0.1, report
    assert abs(history["val_flops_ratio"][-1] - 0.6) < 0.1, history
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices(
        (images[512:], labels[512:])
    ).batch(64)
    evaluated = evaluate_model(model, dataset)
    np.testing.assert_allclose(
        evaluated["top1"], history["val_accuracy"][-1], atol=1e-6
    )
