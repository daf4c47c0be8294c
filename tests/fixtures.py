"""Small helpers shared by the tests."""

import numpy as np


def random_images(n=4, size=32, channels=3, seed=0):
    return (
        np.random.default_rng(seed)
        .normal(size=(n, size, size, channels))
        .astype("float32")
    )


def fit_on_random_images(
    model, callbacks, epochs=2, compile=True, learning_rate=0.01
):
    """Fits `model` for `epochs` of 4 steps on 8x8 noise, label 0."""
    import keras

    if compile:
        model.compile(
            keras.optimizers.SGD(learning_rate),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
    return model.fit(
        random_images(n=32, size=8),
        np.zeros(32, np.int32),
        batch_size=8,
        epochs=epochs,
        callbacks=callbacks,
        verbose=0,
    )


def warm_up_batch_norm(model, images, steps=3):
    """Gives BN layers non-trivial moving statistics."""
    for _ in range(steps):
        model(images, training=True)
    for layer in model.layers:
        for weight in layer.weights:
            if "moving" in weight.path:
                weight.assign(weight + 0.1)


def randomize_gates(model, seed=0, scale=2.0):
    """Gives every gate an input-dependent decision, so images differ."""
    from lcnet_tf.flops import gated_blocks

    rng = np.random.default_rng(seed)
    for block in gated_blocks(model):
        for gate in block.gates:
            kernel = gate.keep_logits.kernel
            kernel.assign(
                rng.normal(size=kernel.shape).astype("float32") * scale
            )
            bias = gate.keep_logits.bias
            bias.assign(np.zeros(bias.shape, "float32"))
            if gate.scale == "learned":
                kernel = gate.scale_logits.kernel
                kernel.assign(rng.normal(size=kernel.shape).astype("float32"))


def tiny_bottleneck_resnet(gating, **kwargs):
    """A two-stage bottleneck ResNet on 32x32 inputs (fast to export)."""
    from lcnet_tf.layers import GatedBottleneckBlock
    from lcnet_tf.models.resnet_builder import build_resnet
    from lcnet_tf.models.resnet_builder import conv_bn_relu

    return build_resnet(
        input_shape=(32, 32, 3),
        stem=lambda x: conv_bn_relu(x, 32, 3, 1, "stem"),
        block_class=GatedBottleneckBlock,
        stage_filters=[8, 16],
        stage_blocks=[2, 2],
        stage_strides=[1, 2],
        gating=gating,
        num_classes=10,
        budget_target=0.5,
        budget_weight=1.0,
        name=None,
        depth=14,
        **kwargs,
    )


def interrupt_at_epoch(epoch):
    """A callback that stops `fit` as a kill would, after `epoch` ends."""
    import keras

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, done, logs=None):
            if done == epoch:
                raise KeyboardInterrupt("simulated kill")

    return Interrupt()


def tiny_train_config(tmp_path, data_dir, **kwargs):
    """A `TrainConfig` of a few steps of an LC-ResNet-8 (3 epochs)."""
    from lcnet_tf.training import TrainConfig

    values = dict(
        depth=8,
        gating="lc",
        epochs=3,
        batch_size=32,
        train_examples=64,
        eval_examples=64,
        data_dir=data_dir,
        model_dir=str(tmp_path / "run"),
        verbose=0,
    )
    values.update(kwargs)
    return TrainConfig(**values)


def row_record(name, gating, init_from, **config):
    """A results-table row: its name and a `TrainConfig` dict."""
    base = dict(
        gating=gating,
        init_from=init_from,
        epochs=3,
        batch_size=128,
        momentum=0.9,
        learning_rate=0.02,
        schedule="cosine",
        warmup_epochs=0,
        weight_decay=5e-4,
        budget_weight=1.0,
        noise_std=0.0,
    )
    return {"row": name, "config": {**base, **config}}
