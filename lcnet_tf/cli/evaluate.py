"""Evaluates a saved model on CIFAR-10: top-1, exact FLOPs, keep rates.

`lcnet-evaluate --model=runs/demo/model.keras --output=report.json`
"""

from absl import app
from absl import flags

from lcnet_tf.cli.launcher import launch

FLAGS = flags.FLAGS


def define_flags():
    if "model" in FLAGS:
        return
    flags.DEFINE_string("model", None, "Path of a `.keras` model.")
    flags.DEFINE_string(
        "data_dir", None, "Folder with the CIFAR-10 binary files."
    )
    flags.DEFINE_enum("split", "test", ["train", "test"], "Dataset split.")
    flags.DEFINE_integer("examples", None, "Evaluate the first N images.")
    flags.DEFINE_integer("batch_size", 500, "Inference batch size.")
    flags.DEFINE_float("tau", None, "Override every gate's threshold.")
    flags.DEFINE_string(
        "output", None, "JSON report path (default: beside the model)."
    )
    flags.DEFINE_bool(
        "sweep",
        False,
        "Also sweep the threshold, and report the operating points: the "
        "thresholds on the accuracy/FLOPs Pareto front of the first "
        "--calibration_examples training images, measured on --split.",
    )
    flags.DEFINE_bool(
        "routing_value",
        False,
        "Also report what per-image routing buys: the model against its "
        "own body with every image on the most frequent routing of the "
        "first --calibration_examples training images.",
    )
    flags.DEFINE_integer(
        "calibration_examples",
        10_000,
        "Training images that choose the operating points (--sweep) and "
        "the most frequent routing (--routing_value).",
    )
    flags.DEFINE_list(
        "taus",
        None,
        "Thresholds of the sweep (--sweep), comma-separated (default "
        "0.05 to 0.95 in steps of 0.05).",
    )
    flags.DEFINE_float(
        "min_gain",
        None,
        "Top-1 (a fraction) an operating point must add over every "
        "cheaper one on the calibration images (default 0.002).",
    )


def evaluate_file(
    model_path,
    data_dir,
    split,
    examples,
    batch_size,
    tau,
    sweep=False,
    calibration_examples=10_000,
    min_gain=None,
    taus=None,
    routing_value=False,
):
    """Loads a model and evaluates it; the library side of the CLI.

    With `sweep`, the report also holds `operating_points`
    (`lcnet_tf.analysis.operating_points`): thresholds chosen on the
    first `calibration_examples` training images among `taus` (None
    for `KNOB_TAUS`), measured on `split`. With `routing_value`, it
    holds `routing_value` (`lcnet_tf.training.routing_value`), the
    routing counted on those training images.
    """
    from lcnet_tf.data.cifar10 import cifar10_arrays
    from lcnet_tf.data.cifar10 import cifar10_dataset
    from lcnet_tf.flops import gated_blocks
    from lcnet_tf.models.gate_controls import set_threshold
    from lcnet_tf.models.saving import load_model
    from lcnet_tf.training.evaluation import evaluate_model
    from lcnet_tf.training.evaluation import per_image_results

    for wanted, flag, what in (
        (sweep, "--sweep", "its operating points"),
        (routing_value, "--routing_value", "its routing"),
    ):
        if wanted and split == "train":
            raise ValueError(
                f"{flag} chooses {what} on training images; evaluating "
                f"on --split=train would judge it on the images that "
                f"chose it. Use --split=test."
            )
    if sweep:
        from lcnet_tf.analysis.operating_points import KNOB_TAUS
        from lcnet_tf.analysis.threshold_sweep import parse_taus

        # Checked before anything runs: the evaluation takes minutes.
        taus = KNOB_TAUS if taus is None else parse_taus(taus)
    model = load_model(model_path, compile=False)
    for wanted, flag in (
        (sweep, "--sweep"),
        (routing_value, "--routing_value"),
    ):
        if wanted and not gated_blocks(model):
            raise ValueError(
                f"{flag} needs a gated model; '{model_path}' has no gates."
            )
    if tau is not None:
        set_threshold(model, tau)
    dataset = cifar10_dataset(
        split,
        data_dir=data_dir,
        batch_size=batch_size,
        training=False,
        num_examples=examples,
    )
    # Training-mode decisions on the first evaluated images, to check that
    # the model decides in deployment as it did in training.
    agreement_images, _ = cifar10_arrays(
        split, data_dir, num_examples=min(examples or 1024, 1024)
    )
    # The routed pass takes minutes; --routing_value reuses it.
    results = per_image_results(model, dataset) if routing_value else None
    report = evaluate_model(model, dataset, agreement_images, results)
    if sweep:
        from lcnet_tf.analysis.operating_points import operating_points

        calibration = cifar10_dataset(
            "train",
            data_dir=data_dir,
            batch_size=batch_size,
            training=False,
            num_examples=calibration_examples,
        )
        report["operating_points"] = operating_points(
            model,
            calibration,
            dataset,
            taus,
            min_gain=min_gain,
        )
    if routing_value:
        from lcnet_tf.training.routing_value import (
            routing_value as value_of_routing,
        )

        routing_images, _ = cifar10_arrays(
            "train", data_dir, num_examples=calibration_examples
        )
        report["routing_value"] = value_of_routing(
            model, dataset, routing_images, routed=results
        )
    report["model_path"] = model_path
    report["split"] = split
    return report


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    if not FLAGS.model:
        raise app.UsageError("--model is required.")
    from lcnet_tf.training.evaluation import format_report
    from lcnet_tf.training.evaluation import write_report

    report = evaluate_file(
        FLAGS.model,
        FLAGS.data_dir,
        FLAGS.split,
        FLAGS.examples,
        FLAGS.batch_size,
        FLAGS.tau,
        sweep=FLAGS.sweep,
        calibration_examples=FLAGS.calibration_examples,
        min_gain=FLAGS.min_gain,
        taus=FLAGS.taus,
        routing_value=FLAGS.routing_value,
    )
    output = FLAGS.output or FLAGS.model.removesuffix(".keras") + "_eval.json"
    write_report(report, output)
    print(format_report(report))
    print(f"Report written to {output}")


def run():
    launch(main, define_flags, __name__)


if __name__ == "__main__":
    run()
