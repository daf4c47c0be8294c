"""Training throughput (images/s) of static vs L vs C vs LC ResNet-20.

Gated variants train with logistic exploration noise 0.5 (as `make demo`);
`lc_no_noise` shows what the noise costs. With `--dtype_policies`,
the static and LC variants also train under `mixed_bfloat16` (this CPU
has AVX512_BF16), in the same rounds.

One run on real CIFAR-10 batches with `model.fit`; the variants take
turns (rounds of steps each) so machine noise is shared, and the step
time of each gated variant is written relative to the static one in
`benchmarks/results/training_throughput.json`:

    python benchmarks/training_throughput.py --steps=60 --rounds=3
"""

import json
import os
import time

from absl import app
from absl import flags

FLAGS = flags.FLAGS
# name: (gating, logistic exploration noise while training)
VARIANTS = {
    "none": ("none", 0.0),
    "l": ("l", 0.5),
    "c": ("c", 0.5),
    "lc": ("lc", 0.5),
    "lc_no_noise": ("lc", 0.0),
}


def define_flags():
    flags.DEFINE_string("data_dir", None, "CIFAR-10 binary folder.")
    flags.DEFINE_integer("depth", 20, "CIFAR ResNet depth.")
    flags.DEFINE_integer("batch_size", 128, "Batch size.")
    flags.DEFINE_integer("steps", 60, "Timed steps per variant.")
    flags.DEFINE_integer("rounds", 3, "Turns the timed steps are split in.")
    flags.DEFINE_list(
        "dtype_policies",
        ["float32", "mixed_bfloat16"],
        "Dtype policies; the ones after the first time 'none' and 'lc'.",
    )
    flags.DEFINE_string(
        "output_dir", "benchmarks/results", "Where the JSON goes."
    )


def run_benchmark(
    data_dir,
    depth,
    batch_size,
    steps,
    rounds,
    output_dir,
    dtype_policies=("float32",),
):
    """The benchmark as a library function; returns the results dict."""
    from lcnet_tf.data.cifar10 import cifar10_dataset
    from lcnet_tf.training import TrainConfig
    from lcnet_tf.training import build_model
    from lcnet_tf.training import build_optimizer
    from lcnet_tf.training import compile_model

    dataset = cifar10_dataset(
        "train",
        data_dir=data_dir,
        batch_size=batch_size,
        num_examples=batch_size * 20,
        shuffle_seed=0,
    ).repeat()
    variants = {}
    for index, policy in enumerate(dtype_policies):
        for name, variant in VARIANTS.items():
            if index and name not in ("none", "lc"):
                continue
            key = name if index == 0 else f"{name}@{policy}"
            variants[key] = (*variant, policy)
    models = {}
    for name, (gating, noise, policy) in variants.items():
        config = TrainConfig(
            depth=depth,
            gating=gating,
            noise_std=noise,
            batch_size=batch_size,
            dtype_policy=policy,
        )
        model = compile_model(build_model(config), build_optimizer(config, 1))
        # Warm-up: tracing and the first steps are not timed.
        model.fit(dataset, epochs=1, steps_per_epoch=3, verbose=0)
        models[name] = model
    seconds = {name: 0.0 for name in variants}
    per_round = max(1, steps // rounds)
    for _ in range(rounds):
        for name, model in models.items():
            start = time.perf_counter()
            model.fit(dataset, epochs=1, steps_per_epoch=per_round, verbose=0)
            seconds[name] += time.perf_counter() - start
    timed = per_round * rounds
    results = {
        "depth": depth,
        "batch_size": batch_size,
        "timed_steps": timed,
        "variants": {},
    }
    for name, (gating, noise, policy) in variants.items():
        step = seconds[name] / timed
        results["variants"][name] = {
            "gating": gating,
            "noise_std": noise,
            "dtype_policy": policy,
            "images_per_s": batch_size / step,
            "step_ms": step * 1e3,
            "step_time_vs_static": step / (seconds["none"] / timed),
        }
    os.makedirs(output_dir, exist_ok=True)
    with open(os.path.join(output_dir, "training_throughput.json"), "w") as f:
        json.dump(results, f, indent=2)
    return results


def main(argv):
    del argv
    results = run_benchmark(
        FLAGS.data_dir,
        FLAGS.depth,
        FLAGS.batch_size,
        FLAGS.steps,
        FLAGS.rounds,
        FLAGS.output_dir,
        FLAGS.dtype_policies,
    )
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    define_flags()
    app.run(main)
