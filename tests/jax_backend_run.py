"""Trains and saves tiny gated models on Keras' JAX backend, without
TensorFlow; `tests/test_jax_backend.py` runs it in a subprocess and checks
its files on TensorFlow."""

import json
import os
import sys

# Run as a script: the repository root holds the `tests` package.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tests.no_tensorflow import block_tensorflow  # noqa: E402

block_tensorflow()

import keras  # noqa: E402
import numpy as np  # noqa: E402

from lcnet_tf.flops import count_flops  # noqa: E402
from lcnet_tf.flops import flops_per_image  # noqa: E402
from lcnet_tf.layers import GateRegularizer  # noqa: E402
from lcnet_tf.losses import budget_loss  # noqa: E402
from lcnet_tf.models import cifar_resnet  # noqa: E402
from lcnet_tf.models import set_threshold  # noqa: E402

CASES = {
    "lc": dict(
        gating="lc",
        noise_std=0.5,
        gate_regularizer=GateRegularizer(bounds_weight=1.0, shaping_weight=1.0),
    ),
    "l": dict(gating="l"),
    "c_nested": dict(gating="c", channel_selection="nested", channel_groups=4),
    "aig": dict(gating="aig"),
    "lc_pixels": dict(gating="lc", include_preprocessing=True),
}


def main(out_dir):
    assert keras.backend.backend() == "jax"
    keras.config.disable_traceback_filtering()
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 10, size=(32,))
    report = {
        "budget_loss": float(budget_loss(0.75, 0.5, 2.0)),
    }
    for name, kwargs in CASES.items():
        model = cifar_resnet(
            8, budget_target=0.3, budget_weight=20.0, seed=1, **kwargs
        )
        inputs = x
        if kwargs.get("include_preprocessing"):
            inputs = rng.integers(0, 256, size=x.shape).astype("float32")
        model.compile(
            keras.optimizers.SGD(0.1),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        history = model.fit(inputs, y, epochs=4, batch_size=16, verbose=0)
        evaluated = model.evaluate(inputs, y, verbose=0, return_dict=True)
        logits = model.predict(inputs, verbose=0)
        flops = flops_per_image(model, inputs)
        set_threshold(model, 0.95)
        strict = flops_per_image(model, inputs)
        set_threshold(model, 0.5)
        model.save(os.path.join(out_dir, f"{name}.keras"))
        np.savez(
            os.path.join(out_dir, f"{name}.npz"),
            images=inputs,
            logits=logits,
            flops=flops,
        )
        report[name] = {
            "loss": [float(v) for v in history.history["loss"]],
            "evaluate": {k: float(v) for k, v in evaluated.items()},
            "open_flops": int(count_flops(model)),
            "mean_flops": float(flops.mean()),
            "mean_flops_tau_095": float(strict.mean()),
        }
    try:
        import lcnet_tf.training  # noqa: F401
    except ImportError as error:
        report["training_import_error"] = str(error)
    with open(os.path.join(out_dir, "report.json"), "w") as f:
        json.dump(report, f, indent=2)


if __name__ == "__main__":
    main(sys.argv[1])
