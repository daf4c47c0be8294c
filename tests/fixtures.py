"""Small helpers shared by the tests."""

import numpy as np


def random_images(n=4, size=32, channels=3, seed=0):
    return (
        np.random.default_rng(seed)
        .normal(size=(n, size, size, channels))
        .astype("float32")
    )


def warm_up_batch_norm(model, images, steps=3):
    """Gives BN layers non-trivial moving statistics."""
    for _ in range(steps):
        model(images, training=True)
    for layer in model.layers:
        for weight in layer.weights:
            if "moving" in weight.path:
                weight.assign(weight + 0.1)
