"""Which part of a gated model learns: its gates, its body, or both."""

from lcnet_tf.flops import gated_blocks
from lcnet_tf.models.static_init import static_layers


def body_layers(model):
    """Every layer of a gated model's network that is not a gate.

    The stem, each gated block's convolutions and batch norms (shortcut
    included) and the classifier: the layers a static network of the
    same depth also has. The gate heads and the FLOPs budget are left
    out.

    Args:
        model: a gated model built by lcnet_tf.

    Returns:
        list of Keras layers, in model order.
    """
    if not gated_blocks(model):
        raise ValueError(
            f"Model '{model.name}' has no gates: all of it is body."
        )
    return [part for layer in model.layers for part in static_layers(layer)]


def set_body_trainable(model, trainable):
    """Lets a gated model's body learn, or holds it, in place.

    Held (`trainable=False`), `fit` trains the gates alone: the body's
    weights stay as they are and its batch norms normalise with their
    moving statistics, so the gates learn to route exactly the network
    they started from (`TrainConfig.train_body`). The setting is saved
    with the model; a row that fine-tunes the body of such a model
    (`fix_gates`) sets it back.

    Args:
        model: a gated model built by lcnet_tf.
        trainable: bool.

    Returns:
        int. Number of layers set.

    Example:

    ```python
    model = init_from_static(cifar_resnet(20, gating="lc"), static)
    set_body_trainable(model, False)
    model.compile(...)
    model.fit(...)  # trains the gate heads only
    ```
    """
    layers = body_layers(model)
    for layer in layers:
        layer.trainable = bool(trainable)
    return len(layers)
