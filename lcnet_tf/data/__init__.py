"""Input pipelines: CIFAR-10 (local binary files or tfds) and ImageNet.

The pipelines are tf.data (TensorFlow); they load on first use, so the
layers and models import on a Keras backend without TensorFlow.
"""

import importlib

from lcnet_tf.data.statistics import CIFAR10_MEAN
from lcnet_tf.data.statistics import CIFAR10_STD

_PIPELINES = {
    "cifar10_arrays": "cifar10",
    "cifar10_dataset": "cifar10",
    "cifar10_raw": "cifar10",
    "find_binary_files": "cifar10",
    "locate_cifar10": "cifar10",
    "normalize_cifar10": "cifar10",
    "imagenet_dataset": "imagenet",
}


def __getattr__(name):
    if name not in _PIPELINES:
        raise AttributeError(
            f"module 'lcnet_tf.data' has no attribute {name!r}"
        )
    module = importlib.import_module(f"lcnet_tf.data.{_PIPELINES[name]}")
    return getattr(module, name)


__all__ = ["CIFAR10_MEAN", "CIFAR10_STD", *_PIPELINES]
