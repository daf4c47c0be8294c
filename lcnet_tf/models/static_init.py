"""Starting a gated network from a trained static one."""

from lcnet_tf.layers.gated_residual_block import GatedResidualBlock


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
        if not layer.weights or layer.__class__.__name__ == "FlopsBudget":
            continue
        try:
            target = gated_model.get_layer(layer.name)
        except ValueError:
            raise ValueError(
                f"Cannot initialise '{gated_model.name}' from "
                f"'{static_model.name}': it has no layer '{layer.name}'. "
                f"Use a static model of the same depth."
            ) from None
        if isinstance(layer, GatedResidualBlock):
            pairs += zip(layer.body_layers(), target.body_layers())
        else:
            pairs.append((layer, target))
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
