import json
import os
import subprocess
import sys

import pytest
from absl import flags

from lcnet_tf.analysis.operating_points import KNOB_TAUS
from lcnet_tf.cli import evaluate as evaluate_cli
from lcnet_tf.cli import train as train_cli
from lcnet_tf.training.evaluation import format_report

REPO = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


def test_flags_map_to_config():
    train_cli.define_flags()
    flags.FLAGS(["lcnet-train", "--gating=l", "--depth=32", "--tau=0.4"])
    config = train_cli.config_from_flags()
    assert (config.gating, config.depth, config.tau) == ("l", 32, 0.4)
    flags.FLAGS(["lcnet-train", "--budget_target=2"])
    with pytest.raises(ValueError, match="target"):
        train_cli.config_from_flags()
    flags.FLAGS.unparse_flags()
    flags.FLAGS(["lcnet-train", "--depth=21"])
    with pytest.raises(ValueError, match=r"6n \+ 2.*depth=21"):
        train_cli.config_from_flags()
    flags.FLAGS.unparse_flags()
    flags.FLAGS(["lcnet-train", "--noise_anneal=0.5"])
    with pytest.raises(ValueError, match="noise_anneal.*noise_std"):
        train_cli.config_from_flags()
    flags.FLAGS.unparse_flags()


def test_evaluate_missing_model(tmp_path):
    with pytest.raises(FileNotFoundError, match="No model checkpoint"):
        evaluate_cli.evaluate_file(
            str(tmp_path / "m.keras"), None, "test", 10, 10, None
        )


def _saved_lc8(tmp_path):
    """A gated ResNet-8 deciding per image, saved; returns its path."""
    from lcnet_tf.models import cifar_resnet
    from tests.fixtures import randomize_gates

    model = cifar_resnet(8, gating="lc", tau=0.5)
    randomize_gates(model)
    path = str(tmp_path / "m.keras")
    model.save(path)
    return path


def test_evaluate_reports_operating_points(tmp_path, cifar10_dir):

    path = _saved_lc8(tmp_path)
    report = evaluate_cli.evaluate_file(
        path, cifar10_dir, "test", 30, 30, None, True, 20, 0.0
    )
    knob = report["operating_points"]
    taus = [p["tau"] for p in knob["evaluation_sweep"]]
    assert taus == [p["tau"] for p in knob["calibration_sweep"]]
    assert taus == list(KNOB_TAUS)
    assert 1 <= len(knob["points"]) <= len(knob["calibration_sweep"])
    assert knob["min_gain"] == 0.0
    # Measured on the evaluated images: the sweep's figures at those taus.
    by_tau = {p["tau"]: p for p in knob["evaluation_sweep"]}
    assert all(p["top1"] == by_tau[p["tau"]]["top1"] for p in knob["points"])
    text = format_report(report)
    assert "operating points" in text
    point = knob["points"][0]
    assert (
        f"{point['distinct_block_routings']} routings, p90/p10 "
        f"{point['flops_p90_over_p10']:.2f}" in text
    )
    fine = evaluate_cli.evaluate_file(
        path, cifar10_dir, "test", 30, 30, None, True, 20, 0.0, ["0.3", "1"]
    )["operating_points"]
    assert [p["tau"] for p in fine["evaluation_sweep"]] == [0.3, 1.0]
    for taus in (["0.3", "x"], ["1.5"]):
        with pytest.raises(ValueError, match=r"--taus must be numbers"):
            evaluate_cli.evaluate_file(
                path, cifar10_dir, "test", 30, 30, None, True, 20, 0.0, taus
            )


def test_evaluate_reports_routing_value(tmp_path, cifar10_dir):

    path = _saved_lc8(tmp_path)
    report = evaluate_cli.evaluate_file(
        path,
        cifar10_dir,
        "test",
        30,
        30,
        None,
        calibration_examples=20,
        routing_value=True,
    )
    value = report["routing_value"]
    # The routed figures are the report's own, on the same images.
    assert value["routed"]["top1"] == report["top1"]
    assert value["routed"]["flops_ratio"] == pytest.approx(
        report["flops_ratio"]
    )
    assert value["gain"] == pytest.approx(
        report["top1"] - value["top_routing"]["top1"]
    )
    assert "most frequent routing" in format_report(report)


@pytest.mark.parametrize("option", ["sweep", "routing_value"])
def test_evaluate_options_refuse_training_images_and_static_models(
    tmp_path, cifar10_dir, option
):
    from lcnet_tf.models import cifar_resnet

    flag = {option: True}
    with pytest.raises(ValueError, match=f"--{option} chooses.*split=test"):
        evaluate_cli.evaluate_file(
            _saved_lc8(tmp_path), cifar10_dir, "train", 30, 30, None, **flag
        )
    cifar_resnet(8).save(tmp_path / "static.keras")
    with pytest.raises(ValueError, match=f"--{option} needs a gated"):
        evaluate_cli.evaluate_file(
            str(tmp_path / "static.keras"),
            cifar10_dir,
            "test",
            30,
            30,
            None,
            **flag,
        )


def _run(module, *args):
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
    )


@pytest.mark.slow
def test_train_then_evaluate_end_to_end(tmp_path, cifar10_dir):
    run = tmp_path / "run"
    result = _run(
        "lcnet_tf.cli.train",
        f"--data_dir={cifar10_dir}",
        f"--model_dir={run}",
        "--depth=8",
        "--train_examples=128",
        "--eval_examples=64",
        "--batch_size=64",
        "--verbose=0",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    result = _run(
        "lcnet_tf.cli.evaluate",
        f"--data_dir={cifar10_dir}",
        f"--model={run}/model.keras",
        "--examples=200",
        "--tau=0.6",
        f"--output={tmp_path}/report.json",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "top-1 accuracy" in result.stdout
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["num_images"] == 200
    assert list(report["tau"].values()) == pytest.approx([0.6] * 3)
    result = _run(
        "lcnet_tf.cli.export",
        f"--data_dir={cifar10_dir}",
        f"--model={run}/model.keras",
        "--form=staged",
        f"--output={tmp_path}/staged.tflite",
        "--parity_examples=20",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout[result.stdout.index("{") :])
    assert report["gpu_compatible"] and report["signatures"] == 8
    assert report["parity"]["decision_agreement"] == 1.0
    assert os.path.exists(tmp_path / "staged.json")


def test_export_int8_with_real_calibration(tmp_path, cifar10_dir):
    from lcnet_tf.cli.export import export_file
    from lcnet_tf.models import cifar_resnet

    model = cifar_resnet(8, gating="l")
    model.save(tmp_path / "m.keras")
    report = export_file(
        str(tmp_path / "m.keras"),
        str(tmp_path / "m_int8.tflite"),
        form="dynamic",
        quantization="int8",
        data_dir=cifar10_dir,
        representative_examples=16,
        parity_examples=10,
    )
    assert report["quantization"] == "int8"
    assert not report["gpu_compatible"]  # dynamic: IF runs on the CPU
    assert report["parity"]["images"] == 10


def test_export_published_model_for_camera_pixels(tmp_path, cifar10_dir):
    from lcnet_tf.cli.export import export_file
    from lcnet_tf.export import TFLiteModel

    report = export_file(
        os.path.join(
            REPO, "pretrained", "lc_resnet20_t30_e10_r3_cifar10.keras"
        ),
        str(tmp_path / "pixels.tflite"),
        data_dir=cifar10_dir,
        parity_examples=64,
        input="uint8",
    )
    assert report["preprocessing_added"] == "cifar10"
    assert report["gpu_compatible"]
    parity = report["parity"]
    assert parity["decision_agreement"] == 1.0, parity
    assert parity["top1_agreement"] == 1.0, parity
    assert parity["max_logit_diff"] < 1e-3, parity
    assert TFLiteModel(report["tflite"]).input_dtype == "uint8"


def test_export_published_free_row_as_a_prefix(tmp_path, cifar10_dir):
    from lcnet_tf.cli.export import export_file

    report = export_file(
        os.path.join(
            REPO, "pretrained", "lc_resnet20_t30_e10_r5_cifar10.keras"
        ),
        str(tmp_path / "prefix.tflite"),
        form="dynamic",
        data_dir=cifar10_dir,
        representative_examples=128,
        channel_chunks="prefix",
        parity_examples=64,
    )
    parity = report["parity"]
    assert parity["decision_agreement"] == 1.0, parity
    assert parity["top1_agreement"] == 1.0, parity
    assert parity["max_logit_diff"] < 1e-3, parity


def test_export_cli_runs_a_free_row_staged_as_a_prefix(tmp_path, cifar10_dir):
    # Through the flags: `--channel_chunks` takes words as well as ints.
    result = _run(
        "lcnet_tf.cli.export",
        "--model=pretrained/lc_resnet20_t30_e10_r5_cifar10.keras",
        f"--output={tmp_path / 'staged.tflite'}",
        "--form=staged",
        "--channel_chunks=prefix",
        f"--data_dir={cifar10_dir}",
        "--representative_examples=128",
        "--parity_examples=32",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout[result.stdout.index("{") :])
    parity = report["parity"]
    assert parity["decision_agreement"] == 1.0, parity
    assert parity["top1_agreement"] == 1.0, parity
    with open(tmp_path / "staged.json") as f:
        blocks = json.load(f)["blocks"]
    assert any(b.get("channel_selection") == "prefix" for b in blocks)


def test_export_missing_model(tmp_path):
    from lcnet_tf.cli.export import export_file

    with pytest.raises(FileNotFoundError, match="No model checkpoint"):
        export_file(str(tmp_path / "m.keras"), str(tmp_path / "m.tflite"))


def test_bad_flag_is_a_usage_error():
    result = _run("lcnet_tf.cli.train", "--gating=xyz")
    assert result.returncode != 0
    assert "gating" in result.stderr


def test_experiment_rows_list_and_results_without_rows(tmp_path):
    listed = _run(
        "lcnet_tf.cli.experiments", "--list", "--table=budget3", "--depth=32"
    )
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0] == "resnet32_static <- scratch"
    assert "lc_resnet32_t30 <- resnet32_static" in lines
    assert len(lines) == 18
    assert lines[-1] == (
        "lc_resnet32_t30_kd <- resnet32_static, distilled from resnet32_static"
    )
    dynamic = _run("lcnet_tf.cli.experiments", "--list")
    assert dynamic.returncode == 0, dynamic.stderr
    lines = dynamic.stdout.splitlines()
    assert "resnet8_static_e40 <- scratch" in lines
    assert "resnet14_static_e40 <- scratch" in lines
    assert "lc_resnet20_t30_e10 <- resnet20_static" in lines
    assert "lc_resnet20_t30_e10_frozen <- frozen lc_resnet20_t30_e10" in lines
    assert (
        "lc_resnet20_t65_e10_r3_frozen <- frozen lc_resnet20_t65_e10_r3 on "
        "resnet20_static weights, distilled from resnet20_static"
    ) in lines
    assert (
        "lc_resnet20_t30_e10_r5_s1 <- lc_resnet20_t30_e10_r5_gates_s1, "
        "gates fixed, distilled from resnet20_static"
    ) in lines
    seeds = _run("lcnet_tf.cli.experiments", "--list", "--seeds=2,3")
    names = [line.split(" <- ")[0] for line in seeds.stdout.splitlines()]
    assert [n for n in names if n.startswith("resnet8_static_e40_kd_")] == [
        "resnet8_static_e40_kd_s2",
        "resnet8_static_e40_kd_s3",
    ]
    results = _run(
        "lcnet_tf.cli.results",
        f"--root={tmp_path}",
        f"--page={tmp_path / 'page.md'}",
    )
    assert results.returncode != 0
    assert "resnet20_static' has no result" in results.stderr


@pytest.mark.parametrize(
    "command, flag, meaning",
    [
        ("lcnet-train", "--budget_target", "Wanted mean FLOPs ratio"),
        ("lcnet-train", "--gating", "<none|l|c|lc|aig>"),
        ("lcnet-evaluate", "--tau", "threshold"),
        ("lcnet-export", "--form", "dynamic"),
        ("lcnet-experiments", "--table", "<dynamic|budget3>"),
        ("lcnet-demo", "--budget_target", "FLOPs target of the LC-Net"),
    ],
)
def test_installed_command_help_lists_its_own_flags(command, flag, meaning):
    executable = os.path.join(os.path.dirname(sys.executable), command)
    if not os.path.exists(executable):
        pytest.skip(f"{command} is not installed beside {sys.executable}")
    result = subprocess.run(
        [executable, "--help"], capture_output=True, text=True, timeout=300
    )
    # absl exits with 1 after printing the help.
    assert "USAGE" in result.stdout, result.stderr
    text = " ".join(result.stdout.split())
    assert f"{flag}:" in text and meaning in text
    # Its own flags only (absl's and TensorFlow's stay in --helpfull), and
    # no TensorFlow start-up lines.
    assert "--flagfile" not in text and "--xla" not in text
    assert "oneDNN" not in result.stderr + result.stdout
    assert "InitializeLog" not in result.stderr
