"""Trains a (gated) ResNet: `lcnet-train --gating=lc --epochs=10`.

Flags choose the run; every flag maps to a `TrainConfig` field. Rerunning
the same command resumes from the last completed epoch.
"""

import dataclasses

from absl import app
from absl import flags

from lcnet_tf.cli.launcher import launch
from lcnet_tf.training.config import TrainConfig

FLAGS = flags.FLAGS
_DEFINERS = {
    bool: flags.DEFINE_boolean,
    int: flags.DEFINE_integer,
    int | None: flags.DEFINE_integer,
    float: flags.DEFINE_float,
    float | None: flags.DEFINE_float,
    str: flags.DEFINE_string,
    str | None: flags.DEFINE_string,
}


def _choices():
    from lcnet_tf.layers.gate_head import SCALE_MODES
    from lcnet_tf.layers.gated_residual_block import GATING_MODES
    from lcnet_tf.training import config
    from lcnet_tf.training.strategy import STRATEGIES

    return {
        "dataset": config.DATASETS,
        "gating": GATING_MODES,
        "scale": SCALE_MODES,
        "schedule": config.SCHEDULES,
        "strategy": STRATEGIES,
        "dtype_policy": config.DTYPE_POLICIES,
        "channel_selection": ("free", "nested"),
        "freeze_routing_split": config.ROUTING_SPLITS,
        "freeze_routing_scales": config.FROZEN_SCALES,
    }


def define_flags():
    """Defines one absl flag per `TrainConfig` field (once).

    Help text comes from the `TrainConfig` docstring; fields with a fixed
    set of values are enums, so `--help` lists the choices.
    """
    defaults = TrainConfig()
    help_text = TrainConfig.field_help()
    choices = _choices()
    for field in dataclasses.fields(TrainConfig):
        if field.name in FLAGS:
            continue
        default = getattr(defaults, field.name)
        if field.name in choices:
            flags.DEFINE_enum(
                field.name,
                default,
                list(choices[field.name]),
                help_text[field.name],
            )
        else:
            _DEFINERS[field.type](field.name, default, help_text[field.name])


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
    launch(main, define_flags, __name__)


if __name__ == "__main__":
    run()
