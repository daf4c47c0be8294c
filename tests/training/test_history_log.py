import csv

import keras
import numpy as np

from lcnet_tf.training import HistoryLog


def _epochs(path):
    with open(path) as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


def _fit(path, epochs, initial_epoch=0):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x = np.ones((8, 3), "float32")
    model.fit(
        x,
        np.zeros((8, 1)),
        epochs=epochs,
        initial_epoch=initial_epoch,
        verbose=0,
        callbacks=[HistoryLog(str(path))],
    )


def test_a_redone_epoch_replaces_its_row(tmp_path):
    path = tmp_path / "history.csv"
    _fit(path, epochs=3)
    assert _epochs(path) == [0, 1, 2]
    # A kill after epoch 2's row but before its backup: the rerun starts
    # at epoch 2 again.
    _fit(path, epochs=4, initial_epoch=2)
    assert _epochs(path) == [0, 1, 2, 3]
    with open(path) as f:
        assert f.read().count("epoch") == 1  # one header


def test_a_fresh_run_and_a_clean_resume_keep_every_row(tmp_path):
    path = tmp_path / "history.csv"
    _fit(path, epochs=2)
    _fit(path, epochs=3, initial_epoch=2)
    assert _epochs(path) == [0, 1, 2]
