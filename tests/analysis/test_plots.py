import matplotlib.image
import numpy as np

from lcnet_tf.analysis.plots import plot_flops_histogram
from lcnet_tf.analysis.plots import plot_pareto

ROWS = [
    {"name": "static", "kind": "static", "top1": 0.85, "flops_mean": 4.1e7},
    {"name": "static_ft", "kind": "static", "top1": 0.84, "flops_mean": 4.1e7},
    {"name": "lc_t30", "kind": "lc", "top1": 0.78, "flops_mean": 1.25e7},
    {"name": "lc_t50", "kind": "lc", "top1": 0.82, "flops_mean": 2.2e7},
    {"name": "l_t30", "kind": "l", "top1": 0.78, "flops_mean": 1.25e7},
]


def test_pareto_draws_rows_and_a_separate_sweep_panel(tmp_path):
    alone = plot_pareto(ROWS, str(tmp_path / "rows.png"))
    sweep = [
        {"tau": tau, "top1": top1, "flops_mean": flops}
        for tau, top1, flops in [
            (0.5, 0.78, 1.25e7),
            (0.6, 0.78, 1.25e7),
            (0.95, 0.15, 2e6),
        ]
    ]
    both = plot_pareto(ROWS, str(tmp_path / "sub" / "both.png"), sweep=sweep)
    height, width = matplotlib.image.imread(alone).shape[:2]
    both_height, both_width = matplotlib.image.imread(both).shape[:2]
    assert both_height == height
    # The sweep gets a panel of its own beside the rows.
    assert both_width == 2 * width


def test_flops_histogram_has_one_panel_per_model(tmp_path):
    flops = {
        "lc": np.full(50, 1.25e7),
        "aig": np.concatenate([np.full(49, 7.8e6), [1.25e7]]),
        "l": np.full(50, 1.25e7),
    }
    one = plot_flops_histogram(
        {"lc": flops["lc"]}, 4.08e7, str(tmp_path / "1.png")
    )
    three = plot_flops_histogram(flops, 4.08e7, str(tmp_path / "3.png"))
    one_height = matplotlib.image.imread(one).shape[0]
    three_height = matplotlib.image.imread(three).shape[0]
    # Stacked panels: 1.5 inches each at 120 dpi, plus the axis label.
    assert three_height - one_height == 2 * 180
