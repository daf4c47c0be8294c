"""The training loop: Keras `fit` with the pieces a run needs."""

import dataclasses
import json
import os

import keras

from lcnet_tf.data.cifar10 import cifar10_dataset
from lcnet_tf.data.imagenet import imagenet_dataset
from lcnet_tf.flops import model_gates
from lcnet_tf.training import strategy as strategies
from lcnet_tf.training.batch_norm_recalibration import BatchNormRecalibration
from lcnet_tf.training.distiller import GatedDistiller
from lcnet_tf.training.gate_schedule import GateSchedule
from lcnet_tf.training.history_log import HistoryLog
from lcnet_tf.training.model_builder import build_model
from lcnet_tf.training.run_backup import RunBackup

CIFAR10_TRAIN_SIZE = 50_000
IMAGENET_TRAIN_SIZE = 1_281_167
# Batch-norm parameters, biases and the gate heads' biases are not decayed.
NO_DECAY = ["gamma", "beta", "bias"]


def build_datasets(config):
    """Training, validation and calibration datasets of a config.

    The calibration set (for `BatchNormRecalibration`) is training images
    without augmentation: inference statistics must describe the images
    inference sees (padded random crops have other statistics).
    """
    if config.dataset == "cifar10":
        make = cifar10_dataset
        eval_split = "test"
    else:

        def make(*args, **kwargs):
            return imagenet_dataset(
                *args, image_size=config.image_size, **kwargs
            )

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
    calibration = make(
        "train",
        data_dir=config.data_dir,
        batch_size=config.batch_size,
        training=False,
        num_examples=config.train_examples,
    )
    return train, val, calibration


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


def build_optimizer(config, steps, model=None):
    """SGD with momentum, decoupled weight decay and the LR schedule.

    Args:
        config: a `TrainConfig`.
        steps: int. Optimizer steps per epoch.
        model: the model to train; needed with `gate_weight_decay=False`
            to find the gate heads' variables.

    Returns:
        A `keras.optimizers.SGD`.
    """
    optimizer = keras.optimizers.SGD(
        learning_rate=build_schedule(config, steps),
        momentum=config.momentum,
        weight_decay=config.weight_decay or None,
    )
    if config.weight_decay:
        gates = []
        if not config.gate_weight_decay:
            if model is None:
                raise ValueError(
                    "`gate_weight_decay=False` needs the model to find "
                    "its gate variables: build_optimizer(config, steps, "
                    "model)."
                )
            gates = [
                variable
                for gate in model_gates(model)
                for variable in gate.trainable_variables
            ]
        optimizer.exclude_from_weight_decay(
            var_list=gates or None, var_names=NO_DECAY
        )
    return optimizer


def _check_model_dir(config, write=True):
    """Refuses to resume a run of a different architecture."""
    path = os.path.join(config.model_dir, "config.json")
    if os.path.exists(path):
        with open(path) as f:
            previous = json.load(f)
        # Fields added since the run started count at their defaults.
        defaults = {f.name: f.default for f in dataclasses.fields(config)}
        old = {
            k: previous.get(k, defaults[k]) for k in config.model_signature()
        }
        if old != config.model_signature():
            raise ValueError(
                f"Model dir '{config.model_dir}' holds a run of a different "
                f"model ({old}); this config is "
                f"{config.model_signature()}. Use another --model_dir or "
                f"delete the old one."
            )
    if write:
        config.to_json(path)


def compile_model(model, optimizer):
    """Compiles with cross-entropy on logits and top-1 accuracy."""
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    return model


def train(config, callbacks=(), strategy=None):
    """Trains the model of `config`, resuming from its last backup.

    Writes into `config.model_dir`: `config.json`, `backup/` (resume state,
    every epoch), `checkpoints/last.keras`, `logs/` (TensorBoard),
    `history.csv` and, at the end, `model.keras`. A run killed at any
    point continues from its last completed epoch when started again with
    the same config.

    Under a multi-worker strategy only the chief writes checkpoints, logs
    and the model; every worker keeps its own resume state
    (`backup/worker<i>` for the others).

    Args:
        config: a `TrainConfig`.
        callbacks: extra Keras callbacks.
        strategy: a `tf.distribute.Strategy`, or None to create
            `config.strategy` (pass a `TPUStrategy` this way).

    Returns:
        `(model, history)`: the trained model and the Keras `History`.

    Example:

    ```python
    model, history = train(TrainConfig(gating="lc", epochs=10))
    ```
    """
    config.validate()
    if strategy is None:
        strategy = strategies.make_strategy(
            config.strategy, config.worker_timeout, config.cpu_replicas
        )
    chief = strategies.is_chief(strategy)
    keras.utils.set_random_seed(config.seed)
    steps = steps_per_epoch(config)
    # Data first: a bad data dir fails before anything is written.
    train_ds, val_ds, calibration_ds = build_datasets(config)
    if strategy.num_replicas_in_sync > 1:
        train_ds, val_ds = _shard(config, train_ds), _shard(config, val_ds)
    os.makedirs(config.model_dir, exist_ok=True)
    _check_model_dir(config, write=chief)
    with strategy.scope():
        model = build_model(config)
        if config.distill_from:
            model = build_distiller(config, model)
        model = compile_model(model, build_optimizer(config, steps, model))
    if strategies.is_multi_worker(strategy):
        _work_around_multi_worker_keras(model)
    backup = os.path.join(config.model_dir, "backup")
    if not chief:
        backup = os.path.join(backup, f"worker{strategies.task_id(strategy)}")
    run_backup = RunBackup(backup)
    all_callbacks = [run_backup]
    if chief:
        # Before the backup: a kill between the two redoes an epoch whose
        # row `HistoryLog` then replaces, rather than losing the row.
        all_callbacks.insert(
            0, HistoryLog(os.path.join(config.model_dir, "history.csv"))
        )
    jitter = config.threshold_jitter()
    if jitter is not None:
        all_callbacks.append(jitter)
    if config.budget_anneal or config.gate_regularizer() is not None:
        all_callbacks.append(
            GateSchedule(
                config.epochs * steps,
                target=config.budget_target,
                budget_anneal=config.budget_anneal,
            )
        )
    if config.recalibrate_batches:
        # First in the list: checkpoints written at an epoch's end hold
        # the recalibrated statistics.
        all_callbacks.insert(
            0,
            BatchNormRecalibration(
                calibration_ds, config.recalibrate_batches, config.batch_size
            ),
        )
    if chief:
        checkpoint_dir = os.path.join(config.model_dir, "checkpoints")
        os.makedirs(checkpoint_dir, exist_ok=True)
        last = os.path.join(checkpoint_dir, "last.keras")
        all_callbacks += [
            _StudentCheckpoint(last)
            if isinstance(model, GatedDistiller)
            else keras.callbacks.ModelCheckpoint(last),
            keras.callbacks.TensorBoard(os.path.join(config.model_dir, "logs")),
        ]
    train_ds = train_ds.repeat()
    if config.dataset == "cifar10":
        # A resumed run skips the batches its finished epochs saw: the
        # data (seeded per image) then continues where the interrupted
        # run was. CIFAR-10 only: skipping means producing them, which
        # for ImageNet would decode every image of every finished epoch.
        train_ds = train_ds.skip(run_backup.resume_epoch() * steps)
    history = model.fit(
        train_ds,
        epochs=config.epochs,
        steps_per_epoch=steps,
        validation_data=val_ds,
        callbacks=[*all_callbacks, *callbacks],
        verbose=config.verbose,
    )
    if isinstance(model, GatedDistiller):
        # The teacher served training only; the run's model is the student.
        model = model.student
    if chief:
        _save_model(model, os.path.join(config.model_dir, "model.keras"))
    return model, history


class _StudentCheckpoint(keras.callbacks.Callback):
    """Saves a distiller's student after every epoch (not the teacher):
    `checkpoints/last.keras` stays a gated model that `lcnet-evaluate`
    and `lcnet-export` take, as in a run without distillation."""

    def __init__(self, path):
        super().__init__()
        self.path = path

    def on_epoch_end(self, epoch, logs=None):
        _save_model(self.model.student, self.path)


def _save_model(model, path):
    """Saves through a temporary file, so a kill never leaves half a
    `.keras` file at `path`."""
    partial = path + ".partial.keras"
    model.save(partial)
    os.replace(partial, path)


def build_distiller(config, student):
    """Wraps a student in a `GatedDistiller` from `config.distill_from`.

    Args:
        config: a `TrainConfig` with `distill_from` set.
        student: the model `build_model(config)` returned.

    Returns:
        An uncompiled `GatedDistiller`.

    Raises:
        FileNotFoundError: the teacher file does not exist.
        ValueError: the teacher file is corrupt, or its inputs or outputs
            do not match the student's.
    """
    from lcnet_tf.models.saving import load_model

    teacher = load_model(config.distill_from, compile=False)
    distiller = GatedDistiller(
        teacher,
        student,
        temperature=config.distill_temperature,
        distillation_weight=config.distill_weight,
    )
    # `RunBackup` needs a built model before `fit`; a subclassed
    # model is built by one call.
    distiller(keras.ops.zeros((1, *student.input_shape[1:])))
    return distiller


def _work_around_multi_worker_keras(model):
    """Works around keras-team/keras#20585 (open): Keras 3 `fit` fails
    under MultiWorkerMirroredStrategy in two places.

    1. It builds the model from a sample batch that it all-reduces across
       workers, which fails on per-replica input tensors: build from this
       worker's local batch instead (only shapes matter).
    2. It reduces each step's scalar logs with a MEAN over axis 0 across
       workers, which fails on scalars: give every log a leading axis of
       1, so that reduction is the mean over workers (each worker holds
       the metrics of its equal slice of the global batch).
    """
    import tensorflow as tf

    strategy = model.distribute_strategy
    train_step, test_step = model.train_step, model.test_step

    def with_axis(step):
        def wrapped(data):
            return {
                key: tf.reshape(value, [1]) for key, value in step(data).items()
            }

        return wrapped

    model.train_step = with_axis(train_step)
    model.test_step = with_axis(test_step)

    def build_from_local_batch(iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, it in iterator:
                data_batch = tf.nest.map_structure(
                    lambda value: strategy.experimental_local_results(value)[0],
                    next(it),
                )
                break
        with strategy.scope():
            model._symbolic_build(data_batch=data_batch)

    model._maybe_symbolic_build = build_from_local_batch


def _shard(config, dataset):
    """Sharding for multi-worker input: by file for ImageNet's many
    TFRecord files, by element for CIFAR-10's five training files (which
    do not split evenly over workers)."""
    import tensorflow as tf

    options = tf.data.Options()
    policy = tf.data.experimental.AutoShardPolicy
    options.experimental_distribute.auto_shard_policy = (
        policy.DATA if config.dataset == "cifar10" else policy.AUTO
    )
    return dataset.with_options(options)
