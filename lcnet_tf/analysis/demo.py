"""The whole story in minutes: fine-tune, evaluate, export, time."""

import dataclasses
import os
import time

import numpy as np


@dataclasses.dataclass
class DemoConfig:
    """What `run_demo` does.

    Attributes:
        data_dir: str or None. CIFAR-10 binaries.
        model_dir: str. Where the run and the exported model go.
        static: str. Published static model to start from.
        budget_target: float in (0, 1]. FLOPs target of the LC-Net.
        epochs: int >= 1. Fine-tuning epochs.
        train_examples: int >= 1. Training images per epoch.
        test_images: int >= 1. Test images evaluated (10,000: all).
        latency_images: int >= 1. Test images timed, batch 1.
        num_threads: int >= 1. LiteRT CPU threads when timing.
    """

    data_dir: str | None = None
    model_dir: str = "runs/demo"
    static: str = "resnet20_static_cifar10"
    budget_target: float = 0.4
    epochs: int = 3
    train_examples: int = 30_000
    test_images: int = 10_000
    latency_images: int = 300
    num_threads: int = 1

    def __post_init__(self):
        for field in (
            "epochs",
            "train_examples",
            "test_images",
            "latency_images",
            "num_threads",
        ):
            if int(getattr(self, field)) < 1:
                raise ValueError(
                    f"`{field}` must be >= 1. Received: {getattr(self, field)}"
                )


def run_demo(config):
    """Fine-tunes an LC-Net from a published static ResNet-20 and shows
    what it buys: accuracy, exact FLOPs, and measured speed on LiteRT.

    Steps: fine-tune LC-ResNet-20 from the static network with the
    dynamic table's best recipe (`BLOCK_RECIPE`: annealed budget, block
    gates bounded to decide per image, fading noise; distilled from the
    static network; the trainer, resumable, into `config.model_dir`);
    evaluate both on the test images; export the LC-Net's dynamic TFLite
    form (skipped blocks and channels are not computed) next to the run;
    time it against the static network's, taking turns over the same
    images in one run.

    Args:
        config: `DemoConfig`.

    Returns:
        dict: `lc` and `static` reports (`evaluate_model`), `latency`
        (`latency_vs_static`), `tflite` (the file to copy to a phone),
        `seconds` per step.

    Example:

    ```python
    print(format_demo(run_demo(DemoConfig(data_dir="data/cifar10"))))
    ```
    """
    from lcnet_tf.analysis.row_latency import latency_vs_static
    from lcnet_tf.data.cifar10 import cifar10_arrays
    from lcnet_tf.data.cifar10 import cifar10_dataset
    from lcnet_tf.export import to_tflite
    from lcnet_tf.export.channel_order import calibration_images
    from lcnet_tf.models.pretrained import verified_path
    from lcnet_tf.models.saving import load_model
    from lcnet_tf.training.config import TrainConfig
    from lcnet_tf.training.evaluation import evaluate_model
    from lcnet_tf.training.recipes import BLOCK_RECIPE
    from lcnet_tf.training.recipes import DISTILL_RECIPE
    from lcnet_tf.training.trainer import train

    seconds = {}
    start = time.perf_counter()
    static_path = verified_path(config.static)
    train_config = TrainConfig(
        depth=20,
        gating="lc",
        init_from=static_path,
        epochs=config.epochs,
        train_examples=config.train_examples,
        eval_examples=1000,
        batch_size=128,
        learning_rate=0.02,
        budget_target=config.budget_target,
        distill_from=static_path,
        **BLOCK_RECIPE,
        **DISTILL_RECIPE,
        data_dir=config.data_dir,
        model_dir=config.model_dir,
        verbose=2,
    )
    model, _ = train(train_config)
    seconds["fine-tune"] = time.perf_counter() - start

    start = time.perf_counter()
    static = load_model(static_path, compile=False)
    reports = {}
    for name, network in (("lc", model), ("static", static)):
        dataset = cifar10_dataset(
            "test",
            data_dir=config.data_dir,
            batch_size=500,
            training=False,
            num_examples=config.test_images,
        )
        reports[name] = evaluate_model(network, dataset)
    seconds["evaluate"] = time.perf_counter() - start

    start = time.perf_counter()
    tflite = os.path.join(config.model_dir, "lc_resnet20_dynamic.tflite")
    # Free channel gates run as a prefix of the channels these training
    # images keep most, so skipped channels save time too.
    to_tflite(
        model,
        tflite,
        form="dynamic",
        channel_chunks="prefix",
        representative_data=calibration_images(config.data_dir),
    )
    images, _ = cifar10_arrays(
        "test", config.data_dir, num_examples=config.latency_images
    )
    latency = latency_vs_static(
        tflite, static, np.asarray(images), num_threads=config.num_threads
    )
    seconds["export and time"] = time.perf_counter() - start
    return {
        "lc": reports["lc"],
        "static": reports["static"],
        "latency": latency,
        "tflite": tflite,
        "seconds": seconds,
    }


def format_demo(result):
    """The demo's outcome as a few lines of text."""
    lc, static, latency = result["lc"], result["static"], result["latency"]
    routing = lc.get("routing", {})
    lines = [
        f"Test images: {lc['num_images']}",
        f"static ResNet-20   top-1 {100 * static['top1']:.2f}%  "
        f"{static['flops_mean'] / 1e6:.1f}M FLOPs  "
        f"{latency['static_ms']:.3f} ms",
        f"LC-ResNet-20       top-1 {100 * lc['top1']:.2f}%  "
        f"{lc['flops_mean'] / 1e6:.1f}M FLOPs  {latency['model_ms']:.3f} ms",
        f"FLOPs ratio {lc['flops_ratio']:.3f}; per image "
        f"{lc['flops_min'] / 1e6:.1f}M to {lc['flops_max'] / 1e6:.1f}M"
        + (
            f" (p10 / p90 {routing['flops_p10'] / 1e6:.1f}M / "
            f"{routing['flops_p90'] / 1e6:.1f}M, "
            f"{routing['distinct_block_routings']} block routings)"
            if routing
            else ""
        ),
        f"Measured on LiteRT (CPU, {latency['threads']} thread, batch 1, "
        f"{latency['images']} images, taking turns): "
        f"{latency['speedup']:.2f}x the static network's speed",
        f"Copy to a phone: {result['tflite']} (dynamic form: skipped "
        f"blocks are not computed, each block runs only the width its "
        f"kept channels need)",
        "Time: "
        + ", ".join(f"{k} {v:.0f} s" for k, v in result["seconds"].items()),
    ]
    return "\n".join(lines)
