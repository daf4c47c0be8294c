"""Starting a gated network from a trained static one."""

from lcnet_tf.layers.flops_budget import FlopsBudget
from lcnet_tf.layers.gated_residual_block import GatedResidualBlock


def static_layers(layer):
    """The weighted layers of a model's top-level `layer` that a static
    ResNet of the same depth also has.

    A gated block gives its convolutions and batch norms (shortcut
    included), not its gates; the stem and classifier give themselves;
    the FLOPs budget and weightless layers give nothing. The one rule
    for "the network without its gates": copying static weights, holding
    the body (`set_body_trainable`) and synchronising batch norms all
    ask it.

    Args:
        layer: a layer of a model built by lcnet_tf.

    Returns:
        list of Keras layers.
    """
    if isinstance(layer, GatedResidualBlock):
        return layer.body_layers()
    if not layer.weights or isinstance(layer, FlopsBudget):
        return []
    return [layer]


def init_from_static(gated_model, static_model):
    """Copies a static ResNet's weights into a gated ResNet.

    Every convolution, batch norm and dense layer is copied by name; the
    gates keep their initial state (open, scale 1), so the gated model
    computes exactly what the static model computes until it is trained.

    Args:
        gated_model: a model from `cifar_resnet`/`imagenet_resnet` with
            any gating.
        static_model: a model of the same depth and width (any gating;
            only its static weights are read), or a path to a `.keras`
            file of one.

    Returns:
        `gated_model`, modified in place.

    Example:

    ```python
    static = lcnet_tf.models.load_model("static.keras")
    gated = init_from_static(cifar_resnet(20, gating="lc"), static)
    ```
    """
    if isinstance(static_model, str) or hasattr(static_model, "__fspath__"):
        from lcnet_tf.models.saving import load_model

        static_model = load_model(static_model)
    pairs = []
    for layer in static_model.layers:
        sources = static_layers(layer)
        if not sources:
            continue
        try:
            target = gated_model.get_layer(layer.name)
        except ValueError:
            raise ValueError(
                f"Cannot initialise '{gated_model.name}' from "
                f"'{static_model.name}': it has no layer '{layer.name}'. "
                f"Use a static model of the same depth."
            ) from None
        pairs += zip(sources, static_layers(target))
    for source, target in pairs:
        try:
            target.set_weights(source.get_weights())
        except ValueError as error:
            raise ValueError(
                f"Cannot initialise '{gated_model.name}' from "
                f"'{static_model.name}': layer '{source.name}' does not "
                f"match ({error})."
            ) from None
    return gated_model
