"""Gated ResNet backbones and their controls."""

from lcnet_tf.models.cifar_resnet import cifar_resnet
from lcnet_tf.models.gate_controls import kept_thresholds
from lcnet_tf.models.gate_controls import set_budget
from lcnet_tf.models.gate_controls import set_threshold
from lcnet_tf.models.imagenet_resnet import imagenet_resnet
from lcnet_tf.models.preprocessing import add_preprocessing
from lcnet_tf.models.pretrained import pretrained
from lcnet_tf.models.pretrained import pretrained_manifest
from lcnet_tf.models.saving import load_model
from lcnet_tf.models.static_init import init_from_static
from lcnet_tf.validation import has_preprocessing

__all__ = [
    "add_preprocessing",
    "cifar_resnet",
    "has_preprocessing",
    "imagenet_resnet",
    "init_from_static",
    "kept_thresholds",
    "load_model",
    "pretrained",
    "pretrained_manifest",
    "set_budget",
    "set_threshold",
]
