"""The training loop: Keras `fit` with the pieces a run needs."""

import json
import os

import keras

from lcnet_tf.data.cifar10 import cifar10_dataset
from lcnet_tf.data.imagenet import imagenet_dataset
from lcnet_tf.models.cifar_resnet import cifar_resnet
from lcnet_tf.models.imagenet_resnet import imagenet_resnet
from lcnet_tf.models.static_init import init_from_static

CIFAR10_TRAIN_SIZE = 50_000
IMAGENET_TRAIN_SIZE = 1_281_167
# Batch-norm parameters, biases and the gate heads' biases are not decayed.
NO_DECAY = ["gamma", "beta", "bias"]


def build_model(config):
    """The (gated) ResNet a config describes, optionally from a static one.

    Args:
        config: a `TrainConfig`.

    Returns:
        An uncompiled `keras.Model`.
    """
    kwargs = dict(
        gating=config.gating,
        scale=config.scale,
        tau=config.tau,
        channel_groups=config.channel_groups,
        noise_std=config.noise_std,
        budget_target=config.budget_target,
        budget_weight=config.budget_weight,
        seed=config.seed,
    )
    if config.dataset == "cifar10":
        model = cifar_resnet(config.depth, **kwargs)
    else:
        model = imagenet_resnet(config.depth, **kwargs)
    if config.init_from:
        init_from_static(model, config.init_from)
    return model


def build_datasets(config):
    """Training and validation datasets of a config."""
    if config.dataset == "cifar10":
        make = cifar10_dataset
        eval_split = "test"
    else:
        make = imagenet_dataset
        eval_split = "validation"
    train = make(
        "train",
        data_dir=config.data_dir,
        batch_size=config.batch_size,
        num_examples=config.train_examples,
        shuffle_seed=config.seed,
    )
    val = make(
        eval_split,
        data_dir=config.data_dir,
        batch_size=max(config.batch_size, 256),
        num_examples=config.eval_examples,
    )
    return train, val


def steps_per_epoch(config):
    """Optimizer steps in one epoch of a config."""
    size = config.train_examples or (
        CIFAR10_TRAIN_SIZE
        if config.dataset == "cifar10"
        else IMAGENET_TRAIN_SIZE
    )
    steps = size // config.batch_size
    if config.steps_per_epoch:
        steps = min(steps, config.steps_per_epoch)
    if steps < 1:
        raise ValueError(
            f"{size} training examples make no full batch of "
            f"{config.batch_size}."
        )
    return steps


def build_schedule(config, steps):
    """The learning-rate schedule of a config.

    Args:
        config: a `TrainConfig`.
        steps: int. Optimizer steps per epoch.

    Returns:
        A `keras.optimizers.schedules.LearningRateSchedule`: linear
        warm-up, then cosine decay to 0 or steps of x0.1 at 50% and 75%.
    """
    total = config.epochs * steps
    warmup = min(int(config.warmup_epochs * steps), total - 1)
    lr = config.learning_rate
    if config.schedule == "cosine":
        if warmup:
            schedule = keras.optimizers.schedules.CosineDecay(
                lr / 10,
                decay_steps=total - warmup,
                warmup_target=lr,
                warmup_steps=warmup,
            )
        else:
            schedule = keras.optimizers.schedules.CosineDecay(lr, total)
    else:
        boundaries = sorted({max(1, int(total * f)) for f in (0.5, 0.75)})
        values = [lr * 0.1**i for i in range(len(boundaries) + 1)]
        schedule = keras.optimizers.schedules.PiecewiseConstantDecay(
            boundaries, values
        )
    return schedule


def build_optimizer(config, steps):
    """SGD with momentum, decoupled weight decay and the LR schedule.

    Args:
        config: a `TrainConfig`.
        steps: int. Optimizer steps per epoch.

    Returns:
        A `keras.optimizers.SGD`.
    """
    optimizer = keras.optimizers.SGD(
        learning_rate=build_schedule(config, steps),
        momentum=config.momentum,
        weight_decay=config.weight_decay or None,
    )
    if config.weight_decay:
        optimizer.exclude_from_weight_decay(var_names=NO_DECAY)
    return optimizer


def _check_model_dir(config):
    """Refuses to resume a run of a different architecture."""
    path = os.path.join(config.model_dir, "config.json")
    if os.path.exists(path):
        with open(path) as f:
            previous = json.load(f)
        old = {k: previous.get(k) for k in config.model_signature()}
        if old != config.model_signature():
            raise ValueError(
                f"Model dir '{config.model_dir}' holds a run of a different "
                f"model ({old}); this config is "
                f"{config.model_signature()}. Use another --model_dir or "
                f"delete the old one."
            )
    config.to_json(path)


def compile_model(model, optimizer):
    """Compiles with cross-entropy on logits and top-1 accuracy."""
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    return model


def train(config, callbacks=()):
    """Trains the model of `config`, resuming from its last backup.

    Writes into `config.model_dir`: `config.json`, `backup/` (resume state,
    every epoch), `checkpoints/last.keras`, `logs/` (TensorBoard),
    `history.csv` and, at the end, `model.keras`. A run killed at any
    point continues from its last completed epoch when started again with
    the same config.

    Args:
        config: a `TrainConfig`.
        callbacks: extra Keras callbacks.

    Returns:
        `(model, history)`: the trained model and the Keras `History`.

    Example:

    ```python
    model, history = train(TrainConfig(gating="lc", epochs=10))
    ```
    """
    config.validate()
    keras.utils.set_random_seed(config.seed)
    steps = steps_per_epoch(config)
    # Data first: a bad data dir fails before anything is written.
    train_ds, val_ds = build_datasets(config)
    os.makedirs(config.model_dir, exist_ok=True)
    _check_model_dir(config)
    model = compile_model(build_model(config), build_optimizer(config, steps))
    checkpoint_dir = os.path.join(config.model_dir, "checkpoints")
    os.makedirs(checkpoint_dir, exist_ok=True)
    all_callbacks = [
        keras.callbacks.BackupAndRestore(
            os.path.join(config.model_dir, "backup")
        ),
        keras.callbacks.ModelCheckpoint(
            os.path.join(checkpoint_dir, "last.keras")
        ),
        keras.callbacks.TensorBoard(os.path.join(config.model_dir, "logs")),
        keras.callbacks.CSVLogger(
            os.path.join(config.model_dir, "history.csv"), append=True
        ),
        *callbacks,
    ]
    history = model.fit(
        train_ds.repeat(),
        epochs=config.epochs,
        steps_per_epoch=steps,
        validation_data=val_ds,
        callbacks=all_callbacks,
        verbose=config.verbose,
    )
    final = os.path.join(config.model_dir, "model.keras")
    partial = final + ".partial.keras"
    model.save(partial)
    os.replace(partial, final)
    return model, history
