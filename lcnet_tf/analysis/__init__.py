"""Analysis of trained rows: threshold sweeps, latency, plots, pages."""

from lcnet_tf.analysis.cifar10_results import build_cifar10_results
from lcnet_tf.analysis.operating_points import choose_operating_points
from lcnet_tf.analysis.operating_points import operating_points
from lcnet_tf.analysis.operating_points import pareto_front
from lcnet_tf.analysis.row_latency import latency_vs_static
from lcnet_tf.analysis.threshold_sweep import threshold_sweep

__all__ = [
    "build_cifar10_results",
    "choose_operating_points",
    "latency_vs_static",
    "operating_points",
    "pareto_front",
    "threshold_sweep",
]
