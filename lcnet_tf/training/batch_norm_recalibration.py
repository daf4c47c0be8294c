"""Batch-norm recalibration: inference statistics that match training."""

import contextlib

import keras
import numpy as np

from lcnet_tf.layers.gate_head import GateHead


def _sublayers(model):
    # Gated blocks own their batch norms and gate heads as sublayers, so
    # `model.layers` alone would miss them.
    return model._flatten_layers(include_self=False, recursive=True)


@contextlib.contextmanager
def deterministic_gates(model):
    """Gates decide by their threshold even in training mode.

    Inside the context, exploration noise (L-Net, C-Net) and Gumbel
    sampling (ConvNet-AIG) are off, so a `training=True` pass routes every
    image as inference would, while batch norms use batch statistics.
    Takes effect in eager calls and in functions traced inside it.
    """
    gates = [
        layer for layer in _sublayers(model) if isinstance(layer, GateHead)
    ]
    before = [gate.sampling for gate in gates]
    for gate in gates:
        gate.sampling = False
    try:
        yield
    finally:
        for gate, value in zip(gates, before):
            gate.sampling = value


def _batches(data, num_batches, batch_size):
    """Up to `num_batches` image batches from arrays or a dataset."""
    if isinstance(data, np.ndarray):
        for start in range(0, len(data), batch_size):
            if start // batch_size >= num_batches:
                return
            yield data[start : start + batch_size]
        return
    for index, batch in enumerate(data):
        if index >= num_batches:
            return
        yield batch[0] if isinstance(batch, (tuple, list)) else batch


def _check_counts(num_batches, batch_size):
    if int(num_batches) < 1 or int(batch_size) < 1:
        raise ValueError(
            f"`num_batches` and `batch_size` must be >= 1. Received: "
            f"num_batches={num_batches}, batch_size={batch_size}"
        )


def recalibrate_batch_norm(model, data, num_batches=20, batch_size=128):
    """Re-estimates every batch norm's moving statistics from training data.

    Moving averages lag the weights: early in training, or after short
    fine-tuning, they describe weights of many steps ago. Gates read
    features normalised with them at inference, so their decisions drift
    from those taken in training (near the threshold they flip). This
    replaces each moving mean and variance by the exact average of the
    batch statistics over `num_batches` batches, as slimmable networks
    do, with the gates deciding as in inference (no noise).

    Args:
        model: a Keras model (gated or static; a distiller's `student`).
        data: a NumPy array of normalised images, or an iterable of image
            batches or `(images, labels)` batches (e.g. the training
            `tf.data.Dataset`).
        num_batches: int >= 1. Batches to average over.
        batch_size: int >= 1. Batch size when `data` is an array (use the
            training batch size: batch statistics depend on it).

    Returns:
        int. Number of batch-norm layers recalibrated.

    Example:

    ```python
    model.fit(x_train, y_train, epochs=3)
    recalibrate_batch_norm(model, x_train)
    ```
    """
    _check_counts(num_batches, batch_size)
    norms = [
        layer
        for layer in _sublayers(model)
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    if not norms:
        return 0
    momenta = [layer.momentum for layer in norms]
    seen = 0
    try:
        with deterministic_gates(model):
            for batch in _batches(data, int(num_batches), int(batch_size)):
                seen += 1
                # Momentum 1 - 1/k makes the moving value the plain mean
                # of the k batch statistics seen so far.
                for layer in norms:
                    layer.momentum = 1.0 - 1.0 / seen
                model(batch, training=True)
    finally:
        for layer, momentum in zip(norms, momenta):
            layer.momentum = momentum
    if not seen:
        raise ValueError("`data` gave no batch to recalibrate with.")
    return len(norms)


class BatchNormRecalibration(keras.callbacks.Callback):
    """Recalibrates batch norms before each validation and after `fit`.

    So that `val_*` metrics, the saved model and every export decide as
    the gates did in training (see `recalibrate_batch_norm`). The
    library's trainer adds it by default; add it to a plain `fit`:

    Args:
        data: NumPy images or a dataset of `(images, labels)` batches,
            from the training data, without augmentation (inference
            statistics should describe the images inference sees).
        num_batches: int. Batches averaged per recalibration.
        batch_size: int. Batch size when `data` is an array.

    Example:

    ```python
    model.fit(
        x_train, y_train, epochs=3, validation_data=(x_val, y_val),
        callbacks=[BatchNormRecalibration(x_train, batch_size=64)],
    )
    ```
    """

    def __init__(self, data, num_batches=20, batch_size=128):
        super().__init__()
        _check_counts(num_batches, batch_size)
        self.data = data
        self.num_batches = int(num_batches)
        self.batch_size = int(batch_size)
        self._stale = False

    def _recalibrate(self):
        # A distiller trains its student; the teacher is frozen.
        model = getattr(self.model, "student", self.model)
        recalibrate_batch_norm(
            model, self.data, self.num_batches, self.batch_size
        )
        self._stale = False

    def on_epoch_begin(self, epoch, logs=None):
        self._stale = True

    def on_test_begin(self, logs=None):
        if self._stale:
            self._recalibrate()

    def on_epoch_end(self, epoch, logs=None):
        # Without validation data: checkpoints saved after this epoch
        # (callbacks later in the list) get recalibrated statistics.
        if self._stale:
            self._recalibrate()

    def on_train_end(self, logs=None):
        if self._stale:
            self._recalibrate()
