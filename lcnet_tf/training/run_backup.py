"""The resume state of a training run, written so that a kill cannot
corrupt it, with a clear error when it is corrupt anyway."""

import glob
import json
import os
import re

import keras
import numpy as np
from absl import logging

_STATE = re.compile(r"epoch-(\d+)\.json")
# What `keras.callbacks.BackupAndRestore(double_checkpoint=True)` wrote;
# runs begun before this callback changed its layout resume from it.
_LEGACY = (
    ("training_metadata.json", "latest.weights.h5"),
    ("training_metadata.json.bkp", "latest.weights.h5.bkp"),
)


class RunBackup(keras.callbacks.Callback):
    """Saves the training state after every epoch and resumes from it.

    What `keras.callbacks.BackupAndRestore` does, made safe against a kill
    at any instant (the case it exists for). Each epoch's state is two
    files, `epoch-<n>.weights.h5` (model and optimizer variables) and
    `epoch-<n>.json`, each written under a temporary name and renamed into
    place, the JSON last: a state counts only once its JSON is there, so a
    kill while writing leaves the previous state whole. The JSON also
    holds the random seed states (exploration noise), which Keras leaves
    out of weight files, so a resumed run draws the noise the
    uninterrupted run would have drawn; with `resume_epoch` skipping the
    data already seen, it continues as if never stopped. The two newest
    states are kept. On resume the newest state that loads is restored
    (an older one, with a warning, when the newest cannot be read); when
    states exist and none loads, training stops with an error that names
    the folder and says how to restart, instead of a bare HDF5 or JSON
    error. Its files are deleted when training ends, and the folder with
    them unless it holds another worker's folder.

    Args:
        backup_dir: str. Folder of the resume state (only this callback
            may write there).
        keep: int. How many epochs' states to keep (at least 1).

    Example:

    ```python
    model.fit(data, epochs=10, callbacks=[RunBackup("runs/a/backup")])
    ```
    """

    def __init__(self, backup_dir, keep=2):
        super().__init__()
        if not backup_dir:
            raise ValueError("RunBackup needs a backup_dir; got an empty one.")
        if int(keep) < 1:
            raise ValueError(f"keep must be at least 1; got {keep}.")
        self.backup_dir = backup_dir
        self.keep = int(keep)
        # The epoch `resume_epoch` told the data to start at, if asked.
        self._expected_epoch = None

    def _path(self, name):
        return os.path.join(self.backup_dir, name)

    def resume_epoch(self):
        """The epoch a rerun will resume at (0 for a fresh run).

        Read before `fit`, to skip the data of the finished epochs
        (`dataset.skip(epoch * steps_per_epoch)` on the repeated
        training data), as the newest saved state says; should that state
        prove unreadable, the run resumes from an older one with a
        warning that the data no longer lines up.
        """
        for meta, weights in self._states():
            if os.path.exists(meta) and os.path.exists(weights):
                try:
                    self._expected_epoch = _read_state(meta)["epoch"]
                    return self._expected_epoch
                except (OSError, ValueError, KeyError, TypeError):
                    continue
        self._expected_epoch = 0
        return 0

    def _states(self):
        """(metadata, weights) paths of the saved states, newest first."""
        found = []
        for path in glob.glob(self._path("epoch-*.json")):
            match = _STATE.fullmatch(os.path.basename(path))
            if match:
                found.append((int(match.group(1)), path))
        states = [
            (meta, meta[: -len(".json")] + ".weights.h5")
            for _, meta in sorted(found, reverse=True)
        ]
        legacy = [
            (self._path(meta), self._path(weights))
            for meta, weights in _LEGACY
            if os.path.exists(self._path(weights))
        ]
        return states + legacy

    def on_train_begin(self, logs=None):
        if not self.model.built:
            raise ValueError(
                "RunBackup needs a built model before `fit`; call the model "
                "on a batch first."
            )
        states = self._states()
        errors = []
        for meta, weights in states:
            try:
                epoch = self._restore(meta, weights)
            except (OSError, ValueError, KeyError, TypeError) as error:
                errors.append(f"{os.path.basename(weights)}: {error}")
                continue
            if errors:
                logging.warning(
                    "Resumed from an older state, %s (epoch %d), as the "
                    "newer one could not be read: %s",
                    os.path.basename(meta),
                    epoch,
                    "; ".join(errors),
                )
            self.model._initial_epoch = epoch
            expected = self._expected_epoch
            if expected is not None and expected != epoch:
                logging.warning(
                    "Resumed at epoch %d, but the training data was "
                    "positioned for epoch %d: the rest of the run sees "
                    "the data in another order than an uninterrupted run.",
                    epoch,
                    expected,
                )
            return
        if states:
            raise RuntimeError(
                f"The resume state in '{self.backup_dir}' is corrupt and "
                f"its previous copy cannot be used either "
                f"({'; '.join(errors)}). Delete '{self.backup_dir}' to "
                f"start the run again from its first epoch (the run's "
                f"checkpoints/last.keras keeps the last finished epoch's "
                f"model)."
            )

    def _restore(self, meta, weights):
        state = _read_state(meta)
        epoch = state["epoch"]
        optimizer = self.model.optimizer
        if optimizer is not None and not optimizer.built:
            optimizer.build(self.model.trainable_variables)
        self.model.load_weights(weights)
        seeds = state.get("seed_states")
        variables = self._seed_states()
        if seeds is not None and len(seeds) == len(variables):
            for variable, value in zip(variables, seeds):
                variable.assign(np.asarray(value, variable.dtype))
        return epoch

    def _seed_states(self):
        """The model's variables that its weight files leave out: the
        states of its random seed generators."""
        weights = {id(w) for w in self.model.weights}
        return [v for v in self.model.variables if id(v) not in weights]

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(self.backup_dir, exist_ok=True)
        name = f"epoch-{epoch + 1:04d}"
        weights = self._path(f"{name}.weights.h5")
        # The temporary names still end in `.weights.h5`/`.json`, as
        # `save_weights` asks, but do not match a state's pattern.
        partial = self._path(f".partial-{name}.weights.h5")
        self.model.save_weights(partial, overwrite=True)
        os.replace(partial, weights)
        partial_meta = self._path(f".partial-{name}.json")
        seeds = [
            np.asarray(keras.ops.convert_to_numpy(v)).tolist()
            for v in self._seed_states()
        ]
        with open(partial_meta, "w") as f:
            json.dump({"epoch": epoch + 1, "seed_states": seeds}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial_meta, self._path(f"{name}.json"))
        self._prune()

    def _prune(self):
        states = self._states()
        newest = states[: self.keep]
        for meta, weights in states[self.keep :]:
            for path in (meta, weights):
                if os.path.exists(path):
                    os.remove(path)
        kept = {p for pair in newest for p in pair}
        # Weights whose JSON never came (a kill between the two renames).
        for path in glob.glob(self._path("epoch-*.weights.h5")):
            if path not in kept:
                os.remove(path)

    def on_train_end(self, logs=None):
        if not os.path.isdir(self.backup_dir):
            return
        # Only this callback's files: under a multi-worker strategy the
        # other workers' folders sit inside the chief's, and a worker may
        # still be writing its last state when the chief ends.
        for entry in os.scandir(self.backup_dir):
            if not entry.is_dir():
                os.remove(entry.path)
        if not os.listdir(self.backup_dir):
            os.rmdir(self.backup_dir)


def _read_state(meta):
    """A state's JSON, its epoch as an int (raises on a bad file)."""
    with open(meta) as f:
        state = json.load(f)
    state["epoch"] = int(state["epoch"])
    return state
