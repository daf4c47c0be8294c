"""Checks on user-provided images, with errors that name the problem."""

import keras
import numpy as np

_INPUT_DTYPES = ("float32", "pixels", "uint8")


def first_layer(model):
    """The first layer of `model` after its inputs, or None."""
    for layer in model.layers:
        if not isinstance(layer, keras.layers.InputLayer):
            return layer
    return None


def has_preprocessing(model):
    """Whether `model` takes 0-255 pixels (starts with a `Rescaling`)."""
    return isinstance(first_layer(model), keras.layers.Rescaling)


def check_model_images(model, images, name="images"):
    """`check_images` for a Keras model's input, pixels or normalised."""
    return check_images(
        images,
        model.inputs[0].shape[1:],
        name=name,
        dtype="pixels" if has_preprocessing(model) else "float32",
    )


def check_images(images, input_shape, name="images", dtype="float32"):
    """Validates a batch of model inputs.

    Args:
        images: array-like `(batch, height, width, channels)`.
        input_shape: tuple. The model's `(height, width, channels)`;
            `None` entries accept any size.
        name: str. How the argument is called in error messages.
        dtype: str. What the model takes: `"float32"` (images normalised
            as in training, see `lcnet_tf.data`), `"pixels"` (a Keras
            model with preprocessing inside: 0-255 values of any numeric
            dtype) or `"uint8"` (an export with `input="uint8"`).

    Returns:
        A NumPy array: float32, or uint8 for `dtype="uint8"`.

    Raises:
        ValueError: on a wrong rank, shape or dtype, on NaN/Inf values,
            or on pixels outside 0-255.
    """
    if dtype not in _INPUT_DTYPES:
        raise ValueError(
            f"`dtype` must be one of {_INPUT_DTYPES}. Received: dtype={dtype!r}"
        )
    array = np.asarray(images)
    if array.dtype == object or not np.issubdtype(array.dtype, np.number):
        raise ValueError(
            f"`{name}` must be a numeric array. Received dtype {array.dtype}."
        )
    floating = np.issubdtype(array.dtype, np.floating)
    if dtype == "float32" and not floating:
        raise ValueError(
            f"`{name}` must be floating point, normalised as in training "
            f"(e.g. `lcnet_tf.data.normalize_cifar10`). Received dtype "
            f"{array.dtype}: raw pixels would give meaningless outputs. "
            f"For a model that takes pixels, build it with "
            f"`include_preprocessing=True` or `add_preprocessing(model)`."
        )
    if dtype == "uint8" and floating:
        raise ValueError(
            f"`{name}` must be integer pixels 0-255 (uint8): this export "
            f"takes camera pixels. Received dtype {array.dtype}."
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
    if (
        dtype != "float32"
        and array.size
        and (array.min() < 0 or array.max() > 255)
    ):
        raise ValueError(
            f"`{name}` must hold pixels in 0-255; received values from "
            f"{array.min()} to {array.max()}."
        )
    if dtype == "uint8":
        return array.astype(np.uint8, copy=False)
    return array.astype(np.float32, copy=False)
