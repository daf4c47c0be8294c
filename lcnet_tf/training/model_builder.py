"""The model a `TrainConfig` describes: built, or made from a trained one."""

import keras

from lcnet_tf.flops import gated_blocks
from lcnet_tf.models.cifar_resnet import cifar_resnet
from lcnet_tf.models.imagenet_resnet import imagenet_resnet
from lcnet_tf.models.static_init import init_from_static
from lcnet_tf.models.static_init import static_layers
from lcnet_tf.training.body_training import set_body_trainable
from lcnet_tf.training.config import ROUTING_IMAGES
from lcnet_tf.training.frozen_routing import fix_gates
from lcnet_tf.training.frozen_routing import freeze_routing
from lcnet_tf.training.frozen_routing import learn_frozen_scales
from lcnet_tf.training.frozen_routing import most_frequent_routing
from lcnet_tf.training.frozen_routing import release_routing
from lcnet_tf.training.gate_tuning import tune_gates


def build_model(config):
    """The (gated) ResNet a config describes, optionally from a static one.

    Args:
        config: a `TrainConfig`.

    Returns:
        An uncompiled `keras.Model`, computing in `config.dtype_policy`.
    """
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(config.dtype_policy)
    try:
        return _build_model(config)
    finally:
        # The policy is the model's, not the process's.
        keras.config.set_dtype_policy(previous)


def _build_model(config):
    kwargs = dict(
        gating=config.gating,
        scale=config.scale,
        tau=config.tau,
        channel_groups=config.channel_groups,
        channel_selection=config.channel_selection,
        gate_projection_blocks=config.gate_projection_blocks,
        channel_min_groups=config.channel_min_groups,
        noise_std=config.noise_std,
        budget_target=config.budget_target,
        budget_weight=config.budget_weight,
        seed=config.seed,
        gate_regularizer=config.gate_regularizer(),
    )
    if config.freeze_routing_from:
        model = _frozen_routing_model(config)
    elif config.fix_gates_from:
        model = _fixed_gates_model(config)
    elif config.release_routing_from:
        model = _relearning_model(
            config, "release_routing_from", release_routing
        )
    elif config.tune_gates_from:
        model = _relearning_model(config, "tune_gates_from", tune_gates)
    elif config.dataset == "cifar10":
        model = cifar_resnet(config.depth, **kwargs)
    else:
        model = imagenet_resnet(
            config.depth,
            input_shape=(config.image_size, config.image_size, 3),
            **kwargs,
        )
    if config.init_from:
        init_from_static(model, config.init_from)
    if not config.train_body:
        set_body_trainable(model, False)
    if config.sync_batch_norm:
        use_synchronized_batch_norm(model)
    return model


def _gated_model(path, field):
    """The trained gated model at `path`, named by its config field."""
    from lcnet_tf.models.saving import load_model

    model = load_model(path, compile=False)
    if not gated_blocks(model):
        raise ValueError(
            f"`{field}` must be a gated model; {path} has no gates."
        )
    # A row that trained the gates alone saved its body held; the rows
    # made from a trained model train its body.
    set_body_trainable(model, True)
    return model


def _frozen_routing_model(config):
    from lcnet_tf.data.cifar10 import cifar10_arrays
    from lcnet_tf.models.gate_controls import set_budget

    model = _gated_model(config.freeze_routing_from, "freeze_routing_from")
    # The routing, and the gate-scale means of a row without `init_from`,
    # come from these images.
    images, _ = cifar10_arrays(
        config.freeze_routing_split,
        config.data_dir,
        num_examples=ROUTING_IMAGES,
    )
    routing, _ = most_frequent_routing(model, images)
    # From static weights (`init_from`, applied by the caller) the scales
    # the gated model learned no longer fit the body: they become 1.
    freeze_routing(model, routing, images, unit_scales=bool(config.init_from))
    if config.freeze_routing_scales == "learned":
        learn_frozen_scales(model)
    set_budget(model, config.budget_target, config.budget_weight)
    return model


def _fixed_gates_model(config):
    from lcnet_tf.models.gate_controls import set_budget

    model = fix_gates(
        _gated_model(config.fix_gates_from, "fix_gates_from"),
        config.gate_regularizer(),
    )
    set_budget(model, config.budget_target, config.budget_weight)
    return model


def _relearning_model(config, field, make_learn):
    """The trained gated model at `config.<field>`, its gates made to
    learn again by `make_learn` (`release_routing` or `tune_gates`)."""
    from lcnet_tf.models.gate_controls import set_budget

    model = make_learn(
        _gated_model(getattr(config, field), field),
        config.noise_std,
        config.gate_regularizer(),
    )
    set_budget(model, config.budget_target, config.budget_weight)
    return model


def use_synchronized_batch_norm(model):
    """Makes every batch norm of a model use global-batch statistics.

    Under a multi-replica strategy each replica otherwise normalises with
    the statistics of its own slice of the batch (noisier for small
    per-replica batches, and different from a single-device run). The
    setting only changes training; inference uses the moving averages.

    Returns:
        int. Number of batch-norm layers changed.
    """
    count = 0
    for layer in (part for top in model.layers for part in static_layers(top)):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = True
            count += 1
    return count
