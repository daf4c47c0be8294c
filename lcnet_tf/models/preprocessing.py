"""Raw-pixel input: the per-channel standardisation inside the model."""

import keras
import numpy as np

from lcnet_tf.validation import first_layer
from lcnet_tf.validation import has_preprocessing


def preprocessing_layers(mean, std):
    """Layers mapping 0-255 pixels to standardised inputs.

    The same two layers keras-hub's image classifiers put in front: a
    `Rescaling` to [0, 1], then a fixed `Normalization` with the
    dataset's per-channel mean and standard deviation. They hold no
    weights and cost no FLOPs under the project's convention; the
    exporter folds them into one per-channel multiply-add.

    Args:
        mean: per-channel means of [0, 1] pixels.
        std: per-channel standard deviations of [0, 1] pixels, > 0.

    Returns:
        list of two Keras layers.

    Example:
    ```python
    layers = preprocessing_layers(CIFAR10_MEAN, CIFAR10_STD)
    ```
    """
    mean = np.asarray(mean, "float32")
    std = np.asarray(std, "float32")
    if mean.ndim != 1 or mean.shape != std.shape:
        raise ValueError(
            f"`mean` and `std` must be per-channel lists of one length. "
            f"Received: mean={mean.tolist()}, std={std.tolist()}"
        )
    if not np.all(np.isfinite(mean)) or not np.all(std > 0):
        raise ValueError(
            f"`std` must be positive and `mean` finite. Received: "
            f"mean={mean.tolist()}, std={std.tolist()}"
        )
    return [
        keras.layers.Rescaling(1.0 / 255.0, name="rescaling"),
        keras.layers.Normalization(
            mean=mean.tolist(),
            variance=(std**2).tolist(),
            name="normalization",
        ),
    ]


def add_preprocessing(model, mean=None, std=None):
    """A copy of `model` that takes 0-255 pixels instead of standardised
    ones.

    For a model trained on standardised images (every published model):
    the copy puts `preprocessing_layers(mean, std)` in front of the same
    layers with the same weights, so `to_tflite(copy, input="uint8")`
    gives a file that takes camera pixels as they come.

    Args:
        model: a functional model built by `lcnet_tf.models`.
        mean: per-channel means of [0, 1] pixels (default CIFAR-10's).
        std: per-channel standard deviations (default CIFAR-10's).

    Returns:
        A new `keras.Model`; `model` is unchanged.

    Example:
    ```python
    model = lcnet_tf.models.load_pretrained("lc_resnet20_t30_e10_r3")
    raw = add_preprocessing(model)
    raw.predict(uint8_images.astype("float32"))
    ```
    """
    from lcnet_tf.data.statistics import CIFAR10_MEAN
    from lcnet_tf.data.statistics import CIFAR10_STD

    if has_preprocessing(model):
        raise ValueError(
            f"Model '{model.name}' already takes 0-255 pixels (it starts "
            f"with a Rescaling layer)."
        )
    layers = preprocessing_layers(
        CIFAR10_MEAN if mean is None else mean,
        CIFAR10_STD if std is None else std,
    )
    first = first_layer(model)
    if first is None:
        raise ValueError(f"Model '{model.name}' has no layers.")

    def call(layer, *args, **kwargs):
        if layer.name == first.name:
            x = args[0]
            for preprocess in layers:
                x = preprocess(x)
            args = (x,) + args[1:]
        return layer(*args, **kwargs)

    copy = keras.models.clone_model(model, call_function=call)
    for layer in model.layers:
        if layer.weights:
            copy.get_layer(layer.name).set_weights(layer.get_weights())
    return copy
