"""Train/inference decision agreement of the published CIFAR-10 rows.

For each published gated model: `decision_agreement` on the first 1,024
test images (training-mode batches of 128) as published, and after
`recalibrate_batch_norm` over 20 batches of un-augmented training images
(what the trainer now does at the end of every run). Writes
`benchmarks/results/published_agreement.json`:

    python benchmarks/published_agreement.py --data_dir=../shared/data/cifar10
"""

import json
import os

from absl import app
from absl import flags

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("data_dir", None, "CIFAR-10 binary folder.")
    flags.DEFINE_string("pretrained_dir", "pretrained", "Published models.")
    flags.DEFINE_list("rows", [], "Published names (default: every gated).")
    flags.DEFINE_string(
        "output_dir", "benchmarks/results", "Where the JSON goes."
    )


def run_benchmark(data_dir, pretrained_dir, names, output_dir):
    """Agreement before and after recalibration, per published model."""
    from lcnet_tf.data.cifar10 import cifar10_arrays
    from lcnet_tf.data.cifar10 import cifar10_dataset
    from lcnet_tf.flops import gated_blocks
    from lcnet_tf.models.pretrained import pretrained
    from lcnet_tf.models.pretrained import pretrained_manifest
    from lcnet_tf.training import decision_agreement
    from lcnet_tf.training import recalibrate_batch_norm

    images, _ = cifar10_arrays("test", data_dir, num_examples=1024)
    names = names or sorted(pretrained_manifest(pretrained_dir))
    results = {}
    for name in names:
        model = pretrained(name, pretrained_dir)
        if not gated_blocks(model):
            continue
        before = decision_agreement(model, images)
        calibration = cifar10_dataset(
            "train", data_dir, batch_size=128, training=False
        )
        recalibrate_batch_norm(model, calibration, num_batches=20)
        after = decision_agreement(model, images)
        results[name] = {"published": before, "recalibrated": after}
        print(name, json.dumps(results[name]), flush=True)
    os.makedirs(output_dir, exist_ok=True)
    with open(os.path.join(output_dir, "published_agreement.json"), "w") as f:
        json.dump(results, f, indent=2)
    return results


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    run_benchmark(
        FLAGS.data_dir, FLAGS.pretrained_dir, FLAGS.rows, FLAGS.output_dir
    )


if __name__ == "__main__":
    define_flags()
    app.run(main)
