"""Input pipelines: CIFAR-10 (local binary files or tfds) and ImageNet."""

from lcnet_tf.data.cifar10 import CIFAR10_MEAN
from lcnet_tf.data.cifar10 import CIFAR10_STD
from lcnet_tf.data.cifar10 import cifar10_arrays
from lcnet_tf.data.cifar10 import cifar10_dataset
from lcnet_tf.data.cifar10 import cifar10_raw
from lcnet_tf.data.cifar10 import find_binary_files
from lcnet_tf.data.cifar10 import locate_cifar10
from lcnet_tf.data.cifar10 import normalize_cifar10
from lcnet_tf.data.imagenet import imagenet_dataset

__all__ = [
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "cifar10_arrays",
    "cifar10_dataset",
    "cifar10_raw",
    "find_binary_files",
    "imagenet_dataset",
    "locate_cifar10",
    "normalize_cifar10",
]
