"""Checks on user-provided images, with errors that name the problem."""

import numpy as np


def check_images(images, input_shape, name="images"):
    """Validates a batch of model inputs and returns it as float32.

    Args:
        images: array-like `(batch, height, width, channels)`, already
            normalised (see `lcnet_tf.data`).
        input_shape: tuple. The model's `(height, width, channels)`;
            `None` entries accept any size.
        name: str. How the argument is called in error messages.

    Returns:
        A float32 NumPy array.

    Raises:
        ValueError: on a wrong rank, shape or dtype, or on NaN/Inf values.
    """
    array = np.asarray(images)
    if array.dtype == object or not np.issubdtype(array.dtype, np.number):
        raise ValueError(
            f"`{name}` must be a numeric array. Received dtype {array.dtype}."
        )
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(
            f"`{name}` must be floating point, normalised as in training "
            f"(e.g. `lcnet_tf.data.normalize_cifar10`). Received dtype "
            f"{array.dtype}: raw pixels would give meaningless outputs."
        )
    expected = tuple(input_shape)
    if array.ndim != len(expected) + 1:
        hint = (
            " Add a batch axis: images[None]."
            if (array.ndim == len(expected))
            else ""
        )
        raise ValueError(
            f"`{name}` must have rank {len(expected) + 1} (batch, height, "
            f"width, channels); received shape {array.shape}.{hint}"
        )
    for got, want in zip(array.shape[1:], expected):
        if want is not None and got != want:
            raise ValueError(
                f"`{name}` must have per-image shape {expected}; received "
                f"{array.shape[1:]} (full shape {array.shape})."
            )
    finite = np.isfinite(array)
    if not finite.all():
        bad = np.unique(np.argwhere(~finite)[:, 0])
        raise ValueError(
            f"`{name}` contains NaN or Inf values in {len(bad)} image(s), "
            f"first at batch index {int(bad[0])}."
        )
    return array.astype(np.float32, copy=False)
