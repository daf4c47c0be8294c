"""lcnet-tf: fully dynamic gated CNNs (L-Net, C-Net, LC-Net) for Keras 3."""

from lcnet_tf import _startup  # noqa: F401  (before TensorFlow loads)
from lcnet_tf import data
from lcnet_tf import flops
from lcnet_tf import layers
from lcnet_tf import losses
from lcnet_tf import models


def __getattr__(name):
    # The trainer is TensorFlow's (tf.data, tf.distribute): it loads on
    # first use, so the rest imports on a Keras backend without it.
    if name == "training":
        import importlib

        return importlib.import_module("lcnet_tf.training")
    raise AttributeError(f"module 'lcnet_tf' has no attribute {name!r}")


__version__ = "0.1.0"

__all__ = ["data", "flops", "layers", "losses", "models", "training"]
