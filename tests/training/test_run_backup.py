import os

import keras
import numpy as np
import pytest

from lcnet_tf.training import RunBackup
from lcnet_tf.training import run_backup


class _KilledError(Exception):
    pass


class _StopAfter(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise _KilledError()


def _model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(keras.optimizers.SGD(0.1, momentum=0.9), "mse")
    return model


def _fit(backup, epochs, stop_after=None, model=None):
    """Fits a tiny model; returns it and the epochs that ran."""
    model = model or _model()
    x = np.arange(24, dtype="float32").reshape(8, 3) / 24
    callbacks = [RunBackup(str(backup))]
    if stop_after is not None:
        callbacks.append(_StopAfter(stop_after))
    ran = []
    callbacks.append(
        keras.callbacks.LambdaCallback(
            on_epoch_begin=lambda epoch, logs: ran.append(epoch)
        )
    )
    try:
        model.fit(
            x,
            np.ones((8, 2)),
            epochs=epochs,
            verbose=0,
            batch_size=4,
            callbacks=callbacks,
        )
    except _KilledError:
        pass
    return model, ran


def _state(model):
    return [np.array(v) for v in model.weights] + [
        np.array(v) for v in model.optimizer.variables
    ]


def test_resumes_exactly_where_the_last_epoch_ended(tmp_path):
    backup = tmp_path / "backup"
    first, ran = _fit(backup, epochs=4, stop_after=1)
    assert ran == [0, 1]
    assert sorted(os.listdir(backup)) == [
        "epoch-0001.json",
        "epoch-0001.weights.h5",
        "epoch-0002.json",
        "epoch-0002.weights.h5",
    ]
    resumed = _model()
    resumed.build((None, 3))
    callback = RunBackup(str(backup))
    callback.set_model(resumed)
    callback.on_train_begin()
    assert resumed._initial_epoch == 2
    for a, b in zip(_state(first), _state(resumed)):
        np.testing.assert_array_equal(a, b)
    _, ran = _fit(backup, epochs=4)
    assert ran == [2, 3]
    # A finished run leaves no resume state behind.
    assert not backup.exists()


def test_a_finished_chief_leaves_the_other_workers_state_alone(tmp_path):
    # Under a multi-worker strategy worker 1 keeps its state in
    # backup/worker1 and may still be writing it when the chief ends.
    backup = tmp_path / "backup"
    worker = backup / "worker1"
    worker.mkdir(parents=True)
    (worker / ".partial-epoch-0002.weights.h5").write_bytes(b"w")
    _fit(backup, epochs=2)
    assert sorted(os.listdir(backup)) == ["worker1"]
    assert os.listdir(worker) == [".partial-epoch-0002.weights.h5"]
    # The worker's own callback then removes its folder.
    callback = RunBackup(str(worker))
    callback.on_train_end()
    assert not worker.exists()


def test_keeps_only_the_newest_states(tmp_path):
    backup = tmp_path / "backup"
    _fit(backup, epochs=6, stop_after=4)
    assert sorted(p for p in os.listdir(backup) if p.endswith(".json")) == [
        "epoch-0004.json",
        "epoch-0005.json",
    ]


@pytest.mark.parametrize(
    "step, resumes_at",
    [("write", 1), ("weights", 1), ("json", 1), ("prune", 2)],
)
def test_a_kill_at_any_step_of_a_save_leaves_a_state_to_resume(
    tmp_path, monkeypatch, step, resumes_at
):
    # A kill may land at any step of writing epoch 2's state: mid-write
    # of the weights, before either rename, or after the JSON's. The run
    # then resumes from a whole state: epoch 1's until epoch 2's JSON is
    # in place, epoch 2's after.
    backup = tmp_path / "backup"
    _fit(backup, epochs=4, stop_after=0)
    real_replace = os.replace
    real_save = keras.Model.save_weights
    real_prune = RunBackup._prune

    def save_weights(self, path, *args, **kwargs):
        real_save(self, path, *args, **kwargs)
        if step == "write":
            with open(path, "r+b") as f:
                f.truncate(os.path.getsize(path) // 2)
            raise _KilledError()

    def replace(src, dst):
        if dst.endswith(".weights.h5") and step == "weights":
            raise _KilledError()
        if dst.endswith(".json") and step == "json":
            raise _KilledError()
        real_replace(src, dst)

    def prune(self):
        if step == "prune":
            raise _KilledError()
        real_prune(self)

    monkeypatch.setattr(keras.Model, "save_weights", save_weights)
    monkeypatch.setattr(run_backup.os, "replace", replace)
    monkeypatch.setattr(RunBackup, "_prune", prune)
    _, ran = _fit(backup, epochs=4)
    assert ran == [1]
    monkeypatch.undo()
    _, ran = _fit(backup, epochs=4)
    assert ran == list(range(resumes_at, 4))


def test_falls_back_to_the_previous_state_when_the_newest_is_corrupt(
    tmp_path,
):
    backup = tmp_path / "backup"
    _fit(backup, epochs=4, stop_after=1)
    with open(backup / "epoch-0002.weights.h5", "r+b") as f:
        f.write(b"not hdf5" * 16)
    _, ran = _fit(backup, epochs=4)
    assert ran == [1, 2, 3]


def test_says_how_to_restart_when_no_state_can_be_read(tmp_path):
    backup = tmp_path / "backup"
    _fit(backup, epochs=4, stop_after=1)
    for name in os.listdir(backup):
        if name.endswith(".h5"):
            with open(backup / name, "r+b") as f:
                f.write(b"not hdf5" * 16)
    with pytest.raises(RuntimeError, match="Delete '.*backup'"):
        _fit(backup, epochs=4)


def test_resumes_from_the_layout_of_keras_backup_and_restore(tmp_path):
    # Runs begun before RunBackup had its own layout resume too.
    backup = tmp_path / "backup"
    model = _model()
    x = np.zeros((8, 3), "float32")
    try:
        model.fit(
            x,
            np.ones((8, 2)),
            epochs=4,
            verbose=0,
            callbacks=[
                keras.callbacks.BackupAndRestore(
                    str(backup), double_checkpoint=True
                ),
                _StopAfter(2),
            ],
        )
    except _KilledError:
        pass
    assert (backup / "latest.weights.h5").exists()
    _, ran = _fit(backup, epochs=4)
    assert ran == [3]


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="backup_dir"):
        RunBackup("")
    with pytest.raises(ValueError, match="keep"):
        RunBackup("b", keep=0)


def test_a_kill_during_the_first_save_starts_the_run_afresh(
    tmp_path, monkeypatch
):
    # What `BackupAndRestore` could not survive: no previous state to fall
    # back on, and a half-written one in place.
    backup = tmp_path / "backup"
    real_save = keras.Model.save_weights

    def save_weights(self, path, *args, **kwargs):
        real_save(self, path, *args, **kwargs)
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) // 2)
        raise _KilledError()

    monkeypatch.setattr(keras.Model, "save_weights", save_weights)
    _fit(backup, epochs=3)
    monkeypatch.undo()
    _, ran = _fit(backup, epochs=3)
    assert ran == [0, 1, 2]
