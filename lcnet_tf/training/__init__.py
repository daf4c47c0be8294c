"""Training loop, configuration and evaluation reports."""

# Before anything imports it: a clear error when TensorFlow is missing.
from lcnet_tf import _tensorflow_check  # noqa: F401
from lcnet_tf.training.batch_norm_recalibration import BatchNormRecalibration
from lcnet_tf.training.batch_norm_recalibration import recalibrate_batch_norm
from lcnet_tf.training.body_training import set_body_trainable
from lcnet_tf.training.config import TrainConfig
from lcnet_tf.training.distiller import GatedDistiller
from lcnet_tf.training.evaluation import evaluate_model
from lcnet_tf.training.evaluation import format_report
from lcnet_tf.training.evaluation import per_image_results
from lcnet_tf.training.evaluation import write_report
from lcnet_tf.training.frozen_routing import fix_gates
from lcnet_tf.training.frozen_routing import freeze_routing
from lcnet_tf.training.frozen_routing import learn_frozen_scales
from lcnet_tf.training.frozen_routing import most_frequent_routing
from lcnet_tf.training.frozen_routing import release_routing
from lcnet_tf.training.gate_decisions import decision_agreement
from lcnet_tf.training.gate_decisions import gate_decisions
from lcnet_tf.training.gate_schedule import GateSchedule
from lcnet_tf.training.gate_tuning import tune_gates
from lcnet_tf.training.history_log import HistoryLog
from lcnet_tf.training.model_builder import build_model
from lcnet_tf.training.routing_stats import block_gate_coupling
from lcnet_tf.training.routing_stats import independent_block_routings
from lcnet_tf.training.routing_stats import routing_stats
from lcnet_tf.training.routing_value import routing_value
from lcnet_tf.training.run_backup import RunBackup
from lcnet_tf.training.threshold_jitter import ThresholdJitter
from lcnet_tf.training.trainer import build_optimizer
from lcnet_tf.training.trainer import compile_model
from lcnet_tf.training.trainer import train

__all__ = [
    "BatchNormRecalibration",
    "GateSchedule",
    "GatedDistiller",
    "HistoryLog",
    "RunBackup",
    "ThresholdJitter",
    "TrainConfig",
    "block_gate_coupling",
    "build_model",
    "build_optimizer",
    "compile_model",
    "decision_agreement",
    "evaluate_model",
    "fix_gates",
    "format_report",
    "freeze_routing",
    "gate_decisions",
    "independent_block_routings",
    "learn_frozen_scales",
    "most_frequent_routing",
    "per_image_results",
    "recalibrate_batch_norm",
    "release_routing",
    "routing_stats",
    "routing_value",
    "set_body_trainable",
    "train",
    "tune_gates",
    "write_report",
]
