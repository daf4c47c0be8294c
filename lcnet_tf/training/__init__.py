"""Training loop, configuration and evaluation reports."""

from lcnet_tf.training.config import TrainConfig
from lcnet_tf.training.distiller import GatedDistiller
from lcnet_tf.training.evaluation import evaluate_model
from lcnet_tf.training.evaluation import format_report
from lcnet_tf.training.evaluation import per_image_results
from lcnet_tf.training.evaluation import write_report
from lcnet_tf.training.trainer import build_model
from lcnet_tf.training.trainer import build_optimizer
from lcnet_tf.training.trainer import compile_model
from lcnet_tf.training.trainer import train

__all__ = [
    "GatedDistiller",
    "TrainConfig",
    "build_model",
    "build_optimizer",
    "compile_model",
    "evaluate_model",
    "format_report",
    "per_image_results",
    "train",
    "write_report",
]
