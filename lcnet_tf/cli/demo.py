"""Fine-tunes an LC-Net from the published static ResNet-20, evaluates
both on CIFAR-10, exports the LC-Net for phones and times both.

`lcnet-demo --data_dir=../shared/data/cifar10`
"""

import dataclasses
import json

from absl import app
from absl import flags

from lcnet_tf.cli.launcher import launch

FLAGS = flags.FLAGS


def define_flags():
    if "budget_target" in FLAGS:
        return
    from lcnet_tf.analysis.demo import DemoConfig

    defaults = DemoConfig()
    flags.DEFINE_string("data_dir", None, "Folder with the CIFAR-10 binaries.")
    flags.DEFINE_string(
        "model_dir", defaults.model_dir, "Run folder (resumes if present)."
    )
    flags.DEFINE_float(
        "budget_target",
        defaults.budget_target,
        "FLOPs target of the LC-Net, a share of the static network's.",
    )
    flags.DEFINE_integer("epochs", defaults.epochs, "Fine-tuning epochs.")
    flags.DEFINE_integer(
        "train_examples", defaults.train_examples, "Training images an epoch."
    )
    flags.DEFINE_integer(
        "test_images", defaults.test_images, "Test images evaluated."
    )
    flags.DEFINE_integer(
        "latency_images", defaults.latency_images, "Test images timed."
    )


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    from lcnet_tf.analysis.demo import DemoConfig
    from lcnet_tf.analysis.demo import format_demo
    from lcnet_tf.analysis.demo import run_demo

    names = [f.name for f in dataclasses.fields(DemoConfig)]
    try:
        config = DemoConfig(
            **{name: FLAGS[name].value for name in names if name in FLAGS}
        )
    except ValueError as error:
        raise app.UsageError(str(error)) from None
    result = run_demo(config)
    with open(f"{config.model_dir}/demo.json", "w") as f:
        json.dump(result, f, indent=2, default=float)
    print(format_demo(result))


def run():
    launch(main, define_flags, __name__)


if __name__ == "__main__":
    run()
