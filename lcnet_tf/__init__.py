"""lcnet-tf: fully dynamic gated CNNs (L-Net, C-Net, LC-Net) for Keras 3."""

from lcnet_tf import _startup  # noqa: F401  (before TensorFlow loads)
from lcnet_tf import data
from lcnet_tf import flops
from lcnet_tf import layers
from lcnet_tf import losses
from lcnet_tf import models
from lcnet_tf import training

__version__ = "0.1.0"

__all__ = ["data", "flops", "layers", "losses", "models", "training"]
