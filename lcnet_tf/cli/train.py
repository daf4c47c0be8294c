"""Trains a (gated) ResNet: `lcnet-train --gating=lc --epochs=10`.

Flags choose the run; every flag maps to a `TrainConfig` field. Rerunning
the same command resumes from the last completed epoch.
"""

import dataclasses

from absl import app
from absl import flags

from lcnet_tf.training.config import TrainConfig

FLAGS = flags.FLAGS
_DEFINERS = {
    bool: flags.DEFINE_boolean,
    int: flags.DEFINE_integer,
    int | None: flags.DEFINE_integer,
    float: flags.DEFINE_float,
    str: flags.DEFINE_string,
    str | None: flags.DEFINE_string,
}


def define_flags():
    """Defines one absl flag per `TrainConfig` field (once)."""
    defaults = TrainConfig()
    for field in dataclasses.fields(TrainConfig):
        if field.name not in FLAGS:
            _DEFINERS[field.type](
                field.name,
                getattr(defaults, field.name),
                f"TrainConfig.{field.name} (see its docstring).",
            )


def config_from_flags():
    """A `TrainConfig` from the parsed flags."""
    return TrainConfig(
        **{f.name: FLAGS[f.name].value for f in dataclasses.fields(TrainConfig)}
    )


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    try:
        config = config_from_flags()
    except ValueError as error:
        raise app.UsageError(str(error)) from None
    from lcnet_tf.training.trainer import train

    model, _ = train(config)
    if model.distribute_strategy is None or _chief(model):
        print(f"Saved {config.model_dir}/model.keras")
    else:
        print("Worker done; the chief writes the checkpoints and model.")


def _chief(model):
    from lcnet_tf.training.strategy import is_chief

    return is_chief(model.distribute_strategy)


def run():
    define_flags()
    app.run(main)


if __name__ == "__main__":
    run()
