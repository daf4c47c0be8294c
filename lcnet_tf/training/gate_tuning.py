"""A trained gated model's gates, learning again."""

from lcnet_tf.flops import gated_blocks
from lcnet_tf.layers.gate_head import check_noise_std
from lcnet_tf.training.frozen_routing import is_frozen_gate
from lcnet_tf.training.frozen_routing import set_gates_learning


def tune_gates(model, noise_std=0.0, regularizer=None):
    """Lets the gates of a trained gated model learn again, in place.

    Every gate's layers train again from their trained weights: its
    hidden layer, its keep logits (the decisions) and, with learned
    scales, its scale layer. A gate whose keep logits a frozen routing
    fixed (`freeze_routing`) keeps them fixed and trains the rest, so a
    frozen routing stays frozen and only its scales learn
    (`release_routing` releases one). Held with `set_body_trainable(model,
    False)`, the body keeps its weights and its batch norms normalise
    with their moving statistics: the gates and LC-Net's scales then
    learn on exactly what inference computes (the last stage of recipe
    13, `TrainConfig.tune_gates_from`).

    Args:
        model: a gated model built by lcnet_tf (e.g. a row's
            `model.keras`, whose gates `fix_gates` may have fixed).
        noise_std: float >= 0. Exploration noise of the gates.
        regularizer: `GateRegularizer` or None. Replaces the gates' own
            (which must exist: it holds the training progress); None
            turns their bounds and batch-shaping off.

    Returns:
        The model.

    Example:

    ```python
    model = tune_gates(load_model("runs/lc/model.keras", compile=False))
    set_body_trainable(model, False)
    model.compile(...)
    model.fit(...)  # the gates learn on the held body
    ```
    """
    noise_std = check_noise_std(noise_std)
    blocks = gated_blocks(model)
    if not blocks:
        raise ValueError(
            f"Model '{model.name}' has no gates to tune: it is not gated."
        )
    gates = [gate for block in blocks for gate in block.gates]
    set_gates_learning(gates, True, noise_std, regularizer)
    for gate in gates:
        # Saturated logits get no gradient through the straight-through
        # estimator, but weight decay would still pull them towards 0.
        gate.keep_logits.trainable = not is_frozen_gate(gate)
    return model
