"""The resume state of a training run, with a clear error when corrupt."""

import json

import keras


class RunBackup(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` that keeps two states and says when both fail.

    The state is saved at the end of every epoch, the previous one kept
    beside it (`double_checkpoint`): a kill while the state is being
    written leaves the previous epoch's state, which is restored instead.
    When neither can be read, training stops with an error that names the
    folder and says how to restart, instead of a bare HDF5 or JSON error.

    Args:
        backup_dir: str. Folder of the resume state (only this callback
            may write there).

    Example:

    ```python
    model.fit(data, epochs=10, callbacks=[RunBackup("runs/a/backup")])
    ```
    """

    def __init__(self, backup_dir):
        super().__init__(backup_dir, double_checkpoint=True)

    def on_train_begin(self, logs=None):
        try:
            super().on_train_begin(logs)
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as error:
            raise RuntimeError(
                f"The resume state in '{self.backup_dir}' is corrupt and "
                f"its previous copy cannot be used either ({error}). "
                f"Delete '{self.backup_dir}' to start the run again from "
                f"its first epoch (the run's checkpoints/last.keras keeps "
                f"the last finished epoch's model)."
            ) from error
