"""Do gates decide alike in training and inference on a user's own task?

A user-shaped task built from the shipped CIFAR-10 test images: vehicles
(airplane, automobile, ship, truck) against animals, grayscale, resized
to 48x48, 2,500 training and 500 validation images. For several seeds it
fits an LC-ResNet-20 (budget target 0.5) and a static ResNet-20 from
scratch for 3 epochs (SGD 0.05, momentum 0.9, batch 64), each without
and with `BatchNormRecalibration`, and records validation accuracy, the
FLOPs ratio `fit` logged in training and in validation, and the
train/inference decision agreement (`decision_agreement`) on 1,024
training images. Writes `benchmarks/results/train_eval_agreement.json`
and a plot:

    python benchmarks/train_eval_agreement.py \
        --data_dir=../shared/data/cifar10 --seeds=1,2,3
"""

import json
import os
import time

from absl import app
from absl import flags

FLAGS = flags.FLAGS
VEHICLES = (0, 1, 8, 9)


def define_flags():
    flags.DEFINE_string("data_dir", None, "CIFAR-10 binary folder.")
    flags.DEFINE_list("seeds", ["1", "2", "3"], "Seeds, one fit each.")
    flags.DEFINE_integer("epochs", 3, "Epochs of every fit.")
    flags.DEFINE_string(
        "output_dir", "benchmarks/results", "Where JSON and plot go."
    )


def user_task_arrays(data_dir, num_images=3000, size=48):
    """Vehicles-vs-animals, grayscale, `size` x `size`, standardised.

    Args:
        data_dir: str. CIFAR-10 binaries.
        num_images: int. Test images used (in file order).
        size: int. Output height and width.

    Returns:
        `(images float32 (n, size, size, 1), labels int32 (n,))`, label 1
        for vehicles.
    """
    import numpy as np
    import tensorflow as tf

    from lcnet_tf.data.cifar10 import cifar10_raw

    raw = cifar10_raw("test", data_dir).take(num_images).batch(num_images)
    images, labels = next(iter(raw))
    gray = tf.image.rgb_to_grayscale(tf.cast(images, tf.float32) / 255.0)
    gray = tf.image.resize(gray, (size, size)).numpy()
    gray = (gray - gray.mean()) / gray.std()
    labels = np.isin(labels.numpy(), VEHICLES).astype(np.int32)
    return gray.astype(np.float32), labels


def fit_user_task(gating, seed, recalibrate, data, epochs=3):
    """One fit of the task; returns its figures.

    Args:
        gating: str. `"lc"` or `"none"`.
        seed: int.
        recalibrate: bool. Add `BatchNormRecalibration`.
        data: `(x_train, y_train, x_val, y_val)`.
        epochs: int.

    Returns:
        dict of `val_accuracy`, `train_accuracy`, seconds, and for gated
        models the logged FLOPs ratios and `decision_agreement`'s report.
    """
    import keras

    from lcnet_tf.models import cifar_resnet
    from lcnet_tf.training.batch_norm_recalibration import (
        BatchNormRecalibration,
    )
    from lcnet_tf.training.gate_decisions import decision_agreement

    x_train, y_train, x_val, y_val = data
    keras.utils.set_random_seed(seed)
    model = cifar_resnet(
        20,
        gating=gating,
        num_classes=2,
        input_shape=x_train.shape[1:],
        budget_target=0.5,
    )
    model.compile(
        keras.optimizers.SGD(0.05, momentum=0.9),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    callbacks = [BatchNormRecalibration(x_train, batch_size=64)]
    start = time.perf_counter()
    history = model.fit(
        x_train,
        y_train,
        batch_size=64,
        epochs=epochs,
        validation_data=(x_val, y_val),
        callbacks=callbacks if recalibrate else [],
        verbose=0,
    ).history
    result = {
        "gating": gating,
        "seed": seed,
        "recalibrate": recalibrate,
        "seconds": time.perf_counter() - start,
        "train_accuracy": history["accuracy"][-1],
        "val_accuracy": history["val_accuracy"][-1],
    }
    if gating != "none":
        result["fit_flops_ratio"] = history["flops_ratio"][-1]
        result["val_flops_ratio"] = history["val_flops_ratio"][-1]
        result.update(decision_agreement(model, x_train[:1024], 64))
    return result


def run_benchmark(data_dir, seeds, epochs, output_dir):
    """Every (gating, recalibration, seed) fit; writes JSON and a plot."""
    x, y = user_task_arrays(data_dir)
    data = (x[:2500], y[:2500], x[2500:], y[2500:])
    runs = []
    for seed in seeds:
        for gating in ("lc", "none"):
            for recalibrate in (False, True):
                runs.append(
                    fit_user_task(gating, seed, recalibrate, data, epochs)
                )
                print(json.dumps(runs[-1]), flush=True)
    results = {
        "task": "CIFAR-10 test images 0-2999, vehicles vs animals, "
        "grayscale 48x48; 2,500 train / 500 validation",
        "epochs": epochs,
        "runs": runs,
    }
    os.makedirs(output_dir, exist_ok=True)
    with open(os.path.join(output_dir, "train_eval_agreement.json"), "w") as f:
        json.dump(results, f, indent=2)
    _plot(runs, os.path.join(output_dir, "train_eval_agreement.png"))
    return results


def _plot(runs, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    labels = []
    for index, (gating, recalibrate) in enumerate(
        [("lc", False), ("lc", True), ("none", False), ("none", True)]
    ):
        values = [
            r["val_accuracy"]
            for r in runs
            if r["gating"] == gating and r["recalibrate"] == recalibrate
        ]
        left.scatter([index] * len(values), values)
        labels.append(
            f"{'LC' if gating == 'lc' else 'static'}\n"
            f"{'recalibrated' if recalibrate else 'as fit'}"
        )
    left.set_xticks(range(len(labels)), labels)
    left.set_ylabel("validation accuracy")
    for recalibrate, marker in ((False, "x"), (True, "o")):
        gated = [
            r
            for r in runs
            if r["gating"] == "lc" and r["recalibrate"] == recalibrate
        ]
        right.scatter(
            [r["flops_ratio_training"] for r in gated],
            [r["flops_ratio_inference"] for r in gated],
            marker=marker,
            label="recalibrated" if recalibrate else "as fit",
        )
    right.plot([0.3, 0.7], [0.3, 0.7], color="gray", linewidth=0.8)
    right.set_xlabel("FLOPs ratio, training-mode decisions")
    right.set_ylabel("FLOPs ratio, inference decisions")
    right.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    run_benchmark(
        FLAGS.data_dir,
        [int(seed) for seed in FLAGS.seeds],
        FLAGS.epochs,
        FLAGS.output_dir,
    )


if __name__ == "__main__":
    define_flags()
    app.run(main)
