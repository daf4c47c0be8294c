"""What per-image routing is worth to a trained gated model."""

import keras
import numpy as np

from lcnet_tf.flops import count_flops
from lcnet_tf.flops import gated_blocks
from lcnet_tf.training.evaluation import per_image_results
from lcnet_tf.training.frozen_routing import freeze_routing
from lcnet_tf.training.frozen_routing import most_frequent_routing
from lcnet_tf.training.routing_stats import routing_codes


def routing_value(model, dataset, routing_images, batch_size=256, routed=None):
    """Compares a gated model with its own body on one routing.

    A gated network earns its gates per image only if the images that
    leave its most frequent routing do better for it than they would on
    that routing. This runs `dataset` three times through the same
    trained weights: as the model routes each image (`routed`); with
    every image on the most frequent routing of `routing_images`, each
    learned scale still its image's (`top_routing`); and with the scales
    also held at their means over `routing_images` (`frozen`: the
    pruned network a frozen-routing row starts from, before training).
    `gain` is `routed` minus `top_routing` in top-1, the accuracy that
    routing per image buys on this body; `scale_gain` is `top_routing`
    minus `frozen`, what per-image scales buy on the one routing.

    Args:
        model: a gated model built by lcnet_tf (left unchanged).
        dataset: re-iterable `(images, labels)` batches, e.g.
            `lcnet_tf.data.cifar10_dataset("test")`.
        routing_images: float array `(n, height, width, channels)`,
            normalised, over which the most frequent routing is counted:
            training images, so that the test set does not choose it.
        batch_size: int. Inference batch size for `routing_images`.
        routed: None, or `per_image_results(model, dataset)` already
            computed (as `lcnet-evaluate` has), so that the routed pass
            is not run twice.

    Returns:
        A dict: `top_routing_share` (share of `routing_images` on that
        routing); `routed`, `top_routing` and `frozen`, each
        `{"top1", "flops_ratio"}` over `dataset`; `on_top` and
        `off_top`, each `{"share", "routed_top1", "top_routing_top1"}`
        for the images the model routes on and off that routing; `gain`
        and `scale_gain`.

    Example:

    ```python
    value = routing_value(model, cifar10_dataset("test"), x_train[:10000])
    print(f"routing per image buys {100 * value['gain']:+.2f} points")
    ```
    """
    if not gated_blocks(model):
        raise ValueError(
            f"Model '{model.name}' has no gates: routing_value compares "
            f"a gated model's routing with one routing."
        )
    if len(routing_images) == 0:
        raise ValueError("`routing_images` is empty.")
    routing, share = most_frequent_routing(
        model, routing_images, batch_size=batch_size
    )
    if routed is None:
        routed = per_image_results(model, dataset)
    top = per_image_results(
        _on_routing(model, routing, per_image_scales=True), dataset
    )
    frozen = per_image_results(
        _on_routing(model, routing, images=routing_images), dataset
    )
    blocks, channels = routing_codes(model, _as_decisions(routing))
    on_top = (routed["block_runs"] == blocks).all(axis=1) & (
        routed["channel_decisions"] == channels
    ).all(axis=1)
    static = count_flops(model, gates=False)
    report = {
        "top_routing_share": share,
        "routed": _summary(routed, static),
        "top_routing": _summary(top, static),
        "frozen": _summary(frozen, static),
    }
    for name, images in (("on_top", on_top), ("off_top", ~on_top)):
        report[name] = {
            "share": float(images.mean()),
            "routed_top1": _top1(routed, images),
            "top_routing_top1": _top1(top, images),
        }
    report["gain"] = report["routed"]["top1"] - report["top_routing"]["top1"]
    report["scale_gain"] = (
        report["top_routing"]["top1"] - report["frozen"]["top1"]
    )
    return report


def _on_routing(model, routing, **options):
    # A copy: `freeze_routing` fixes gates in place.
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return freeze_routing(copy, routing, **options)


def _as_decisions(routing):
    return {
        name: {
            "run": np.array([part["run"]], np.int8),
            "channels": np.asarray(part["channels"], np.int8)[None],
        }
        for name, part in routing.items()
    }


def _summary(results, static):
    return {
        "top1": _top1(results),
        "flops_ratio": float(results["flops"].mean() / static),
    }


def _top1(results, images=None):
    right = results["predictions"] == results["labels"]
    if images is not None:
        right = right[images]
    # No image of a kind (every image on the top routing): no accuracy.
    return float(right.mean()) if right.size else None
