import csv
import os

import keras


class HistoryLog(keras.callbacks.CSVLogger):
    """`CSVLogger` that keeps exactly one row per epoch across resumes.

    A run killed after an epoch's row was written but before its backup
    redoes that epoch on resume; plain `CSVLogger(append=True)` would
    then log it twice. This logger drops the rows of the epochs a run
    starts over (every row from the first epoch it begins), so with the
    row written before the backup (`train` puts it first) a kill never
    loses a row and never doubles one.

    Args:
        filename: str. The CSV file, appended to.
        separator: str. Column separator.

    Example:
    ```python
    model.fit(data, epochs=10, callbacks=[
        HistoryLog("runs/a/history.csv"), RunBackup("runs/a/backup")])
    ```
    """

    def __init__(self, filename, separator=","):
        super().__init__(filename, separator=separator, append=True)
        self._trimmed = False

    def on_train_begin(self, logs=None):
        self._trimmed = False
        super().on_train_begin(logs)

    def on_epoch_begin(self, epoch, logs=None):
        if not self._trimmed:
            self._trimmed = True
            self._drop_rows_from(epoch)
        super().on_epoch_begin(epoch, logs)

    def _drop_rows_from(self, epoch):
        if not os.path.isfile(self.filename):
            return
        with open(self.filename, newline="") as f:
            rows = list(csv.reader(f, delimiter=self.sep))
        if not rows or rows[0][:1] != ["epoch"]:
            return
        kept = [rows[0]] + [
            row for row in rows[1:] if row and int(row[0]) < epoch
        ]
        if len(kept) == len(rows):
            return
        # The logger's own handle appends (O_APPEND), so it writes after
        # the truncated end.
        with open(self.filename, "w", newline="") as f:
            csv.writer(f, delimiter=self.sep).writerows(kept)
