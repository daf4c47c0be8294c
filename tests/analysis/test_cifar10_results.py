import json
import os
import subprocess
import sys

import numpy as np
import pytest

from lcnet_tf.analysis import build_cifar10_results
from lcnet_tf.analysis import latency_vs_static
from lcnet_tf.analysis import threshold_sweep
from lcnet_tf.flops import count_flops
from lcnet_tf.models import cifar_resnet
from lcnet_tf.models import pretrained
from lcnet_tf.models import pretrained_manifest
from lcnet_tf.training.evaluation import per_image_results
from lcnet_tf.training.experiments import cifar10_rows
from lcnet_tf.training.experiments import run_rows
from lcnet_tf.training.frozen_routing import freeze_routing
from lcnet_tf.training.frozen_routing import most_frequent_routing
from lcnet_tf.training.routing_stats import routing_stats
from tests.fixtures import random_images
from tests.fixtures import randomize_gates


def test_threshold_sweep_spans_open_to_closed_and_restores_taus():
    model = cifar_resnet(14, gating="lc", tau=0.5, input_shape=(8, 8, 3))
    # A seed whose first gated block runs for some of the images only.
    randomize_gates(model, seed=0)
    images = random_images(16, size=8)
    data = [(images[:8], np.arange(8) % 10), (images[8:], np.arange(8))]
    open_point, own, closed = threshold_sweep(model, data, [0.0, 0.5, 1.0])
    assert open_point["tau"] == 0.0
    # Each point says how dynamic the routing is at its threshold: one
    # routing with every gate open or shut, the model's own in between.
    assert open_point["distinct_block_routings"] == 1
    assert closed["distinct_block_routings"] == 1
    assert open_point["flops_p90_over_p10"] == pytest.approx(1.0)
    stats = routing_stats(model, per_image_results(model, data))
    assert stats["distinct_block_routings"] > 1
    for key in ("distinct_block_routings", "top_routing_share"):
        assert own[key] == stats[key]
    assert own["flops_p90_over_p10"] == pytest.approx(
        stats["flops_p90_over_p10"]
    )
    # Every gate open: static FLOPs plus every gate head.
    assert open_point["flops_ratio"] == pytest.approx(
        count_flops(model, gates=True) / count_flops(model, gates=False)
    )
    assert closed["flops_ratio"] < 0.6 * open_point["flops_ratio"]
    taus = [
        gate.tau
        for layer in model.layers
        for gate in getattr(layer, "gates", [])
    ]
    assert taus and taus == pytest.approx([0.5] * len(taus))
    with pytest.raises(ValueError, match="no gates"):
        threshold_sweep(cifar_resnet(8), data, [0.5])
    with pytest.raises(ValueError, match="empty"):
        threshold_sweep(model, data, [])


def test_latency_rejects_bad_images():
    model = cifar_resnet(8)
    with pytest.raises(ValueError, match="non-empty"):
        latency_vs_static(model, model, np.zeros((0, 32, 32, 3)))


def test_latency_times_a_frozen_routing_as_the_pruned_network():
    static = cifar_resnet(8)
    gated = cifar_resnet(8, gating="lc")
    randomize_gates(gated)
    images = random_images(2)
    report = latency_vs_static(gated, static, images)
    assert report["form"] == "dynamic" and report["model_ms"] > 0
    # With training images, channel gates run at planned widths: free
    # ones as a prefix, nested ones too.
    prefix = latency_vs_static(gated, static, images, calibration_images=images)
    assert prefix["form"] == "dynamic_prefix" and prefix["model_ms"] > 0
    nested = cifar_resnet(8, gating="c", channel_selection="nested")
    randomize_gates(nested)
    report = latency_vs_static(
        nested, static, images, calibration_images=images
    )
    assert report["form"] == "dynamic_prefix" and report["model_ms"] > 0
    routing, _ = most_frequent_routing(gated, images)
    freeze_routing(gated, routing, images)
    assert latency_vs_static(gated, static, images)["form"] == "pruned"
    assert (
        latency_vs_static(gated, static, images, calibration_images=images)[
            "form"
        ]
        == "pruned"
    )


@pytest.mark.slow
def test_results_page_from_trained_rows(cifar10_dir, tmp_path):
    rows = cifar10_rows(
        depth=8,
        targets=(0.5,),
        gatings=("lc", "aig"),
        scale_ablations=(),
        distill_targets=(),
        static_epochs=1,
        finetune_epochs=1,
        data_dir=cifar10_dir,
        train_examples=256,
        eval_examples=200,
        batch_size=64,
        verbose=0,
    )
    root = str(tmp_path / "runs")
    run_rows(rows, root, evaluate_examples=200)
    page = str(tmp_path / "results" / "cifar10.md")
    names = [row.name for row in rows]
    report = build_cifar10_results(
        root,
        names,
        page,
        cifar10_dir,
        static_row="resnet8_static_ft",
        focus_row="lc_resnet8_t50",
        compare_rows=["aig_resnet8_t50"],
        latency_images=30,
        taus=(0.0, 0.5, 1.0),
        budget_text="budget here",
        calibration_examples=200,
    )
    text = open(page).read()
    for name in names:
        assert f"| `{name}` |" in text
        latency = json.load(open(os.path.join(root, name, "latency.json")))
        assert latency["images"] == 30 and latency["latency_ratio"] > 0
        # Free channel gates are timed as a prefix of reordered channels.
        expected = "dynamic_prefix" if name.startswith("lc_") else "dynamic"
        assert latency["form"] == expected, name
    assert "ConvNet-AIG-style baseline" in text and "budget here" in text
    assert "lcnet-experiments --root=" in text
    for path in report["figures"].values():
        assert os.path.getsize(path) > 1000
        assert f"(figures/{os.path.basename(path)})" in text
    assert len(report["figures"]) == 4
    sweep = report["sweep"]
    assert [p["tau"] for p in sweep] == [0.0, 0.5, 1.0]
    assert sweep[0]["flops_ratio"] > sweep[-1]["flops_ratio"]
    # Operating points, chosen on the first 200 training images.
    chosen = json.load(
        open(os.path.join(root, "lc_resnet8_t50", "calibration_sweep.json"))
    )
    assert chosen["images"] == 200
    assert [p["tau"] for p in chosen["points"]] == [0.0, 0.5, 1.0]
    knob = text[text.index("begin:operating_points") :]
    assert "| `lc_resnet8_t50` |" in knob[: knob.index("end:operating")]
    # The sweep at the trained threshold is the row's own evaluation on
    # all 10,000 test images.
    per_image = np.load(os.path.join(root, "lc_resnet8_t50", "per_image.npz"))
    assert per_image["flops"].shape == (10000,)
    assert np.mean(
        per_image["predictions"] == per_image["labels"]
    ) == pytest.approx(sweep[1]["top1"])
    # Cached: a rerun measures nothing again and writes the same page.
    before = os.path.getmtime(
        os.path.join(root, "lc_resnet8_t50", "latency.json")
    )
    build_cifar10_results(
        root,
        names,
        page,
        cifar10_dir,
        "resnet8_static_ft",
        "lc_resnet8_t50",
        latency_images=30,
        taus=(0.0, 0.5, 1.0),
        budget_text="budget here",
        calibration_examples=200,
    )
    assert (
        os.path.getmtime(os.path.join(root, "lc_resnet8_t50", "latency.json"))
        == before
    )
    assert open(page).read() == text
    sweeps = {
        cache: os.path.getmtime(os.path.join(root, "lc_resnet8_t50", cache))
        for cache in ("threshold_sweep.json", "calibration_sweep.json")
    }
    # The command line publishes a row; the loader checks and loads it.
    published = tmp_path / "pretrained"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "lcnet_tf.cli.results",
            f"--root={root}",
            f"--data_dir={cifar10_dir}",
            f"--page={page}",
            "--table=budget3",
            "--depth=8",
            "--targets=0.5",
            "--gatings=lc,aig",
            "--scale_ablations=",
            "--distill_targets=",
            "--latency_images=30",
            "--taus=0,0.5,1",
            "--calibration_examples=200",
            "--publish=lc_resnet8_t50",
            f"--pretrained_dir={published}",
            "--publish_subset=100",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    # The command reads the same caches: no sweep measured again.
    for cache in ("threshold_sweep.json", "calibration_sweep.json"):
        assert (
            os.path.getmtime(os.path.join(root, "lc_resnet8_t50", cache))
            == (sweeps[cache])
        ), cache
    entry = pretrained_manifest(str(published))["lc_resnet8_t50_cifar10"]
    assert entry["subset"] == 100 and entry["row"] == "lc_resnet8_t50"
    assert pretrained("lc_resnet8_t50_cifar10", str(published)).name == (
        "lc_resnet8"
    )


def _results_cli(tmp_path, *extra):
    """`lcnet-results` on an empty root; returns the finished process."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "lcnet_tf.cli.results",
            f"--root={tmp_path}",
            "--data_dir=unused",
            f"--page={tmp_path / 'page.md'}",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_results_cli_on_missing_static_row_says_what_to_run(tmp_path):
    run = _results_cli(tmp_path)
    assert run.returncode != 0
    assert "resnet20_static' has no result" in run.stderr
    assert "lcnet-experiments" in run.stderr


@pytest.mark.parametrize(
    "flag, message",
    [
        ("--taus=0.5,2", "--taus must be numbers in [0, 1]"),
        (
            "--calibration_examples=0",
            "--calibration_examples=0: 0 is not a positive integer",
        ),
    ],
)
def test_results_cli_rejects_bad_sweep_flags(tmp_path, flag, message):
    run = _results_cli(tmp_path, flag)
    assert run.returncode != 0
    assert message in run.stderr


def test_load_rows_gives_a_body_row_its_source_models_architecture(tmp_path):
    from lcnet_tf.analysis.cifar10_results import load_rows

    def write(name, config, result=True):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps(config))
        if result:
            payload = {"row": name, "top1": 0.5, "config": config}
            (folder / "result.json").write_text(json.dumps(payload))

    default = dict(
        channel_groups=1, channel_selection="free", gate_projection_blocks=False
    )
    nested = dict(
        channel_groups=16,
        channel_selection="nested",
        gate_projection_blocks=True,
    )
    write("gates", dict(nested, gating="lc"), result=False)
    # Trained under another root: found by the source folder's name.
    write("body", dict(default, fix_gates_from="/old/root/gates/model.keras"))
    write("released", dict(default, release_routing_from="x/body/model.keras"))
    write("plain", dict(default))
    write("orphan", dict(default, fix_gates_from="x/missing/model.keras"))
    rows = {
        row["row"]: row["config"]
        for row in load_rows(
            str(tmp_path), ["body", "released", "plain", "orphan", "absent"]
        )
    }
    assert list(rows) == ["body", "released", "plain", "orphan"]
    for name in ("body", "released"):
        for key, value in nested.items():
            assert rows[name][key] == value, (name, key)
    for name in ("plain", "orphan"):
        for key, value in default.items():
            assert rows[name][key] == value, (name, key)
