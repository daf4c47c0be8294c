import numpy as np
import pytest
import tensorflow as tf

from lcnet_tf.models import cifar_resnet
from lcnet_tf.training import gate_decisions
from lcnet_tf.training import per_image_results
from lcnet_tf.training import routing_value
from lcnet_tf.training.frozen_routing import freeze_routing
from lcnet_tf.training.frozen_routing import most_frequent_routing
from tests.fixtures import random_images
from tests.fixtures import randomize_gates


def _model():
    model = cifar_resnet(
        14, gating="lc", input_shape=(8, 8, 3), channel_groups=8
    )
    randomize_gates(model, seed=3, scale=0.5)
    return model


def _dataset(model, images):
    """`images` labelled with `model`'s own predictions."""
    unlabelled = tf.data.Dataset.from_tensor_slices(
        (images, np.zeros(len(images), np.int64))
    ).batch(16)
    labels = per_image_results(model, unlabelled)["predictions"]
    return tf.data.Dataset.from_tensor_slices((images, labels)).batch(16)


def test_images_on_the_top_routing_predict_as_routed():
    model = _model()
    images = random_images(n=64, size=8, seed=1)
    dataset = _dataset(model, images)
    before = gate_decisions(model, images)
    value = routing_value(model, dataset, random_images(n=64, size=8))
    # Labelled with the routed predictions: the model as it routes is
    # always right, and so is its body on the top routing wherever the
    # image took that routing anyway (same decisions, same scales).
    assert value["routed"]["top1"] == 1.0
    assert value["on_top"]["top_routing_top1"] == 1.0
    assert 0 < value["on_top"]["share"] < 1
    assert value["on_top"]["share"] + value["off_top"]["share"] == 1.0
    # Some image off the top routing decides otherwise on it.
    assert value["off_top"]["top_routing_top1"] < 1.0
    assert value["gain"] == pytest.approx(
        value["off_top"]["share"] * (1 - value["off_top"]["top_routing_top1"])
    )
    assert value["scale_gain"] == pytest.approx(
        value["top_routing"]["top1"] - value["frozen"]["top1"]
    )
    # The two one-routing models run the same FLOPs on every image.
    assert value["top_routing"]["flops_ratio"] == pytest.approx(
        value["frozen"]["flops_ratio"]
    )
    assert value["routed"]["flops_ratio"] != pytest.approx(
        value["top_routing"]["flops_ratio"]
    )
    # The model itself still routes per image.
    after = gate_decisions(model, images)
    for name, part in before.items():
        np.testing.assert_array_equal(part["run"], after[name]["run"])
        np.testing.assert_array_equal(part["channels"], after[name]["channels"])


def test_a_model_on_one_routing_gains_nothing():
    model = _model()
    routing_images = random_images(n=64, size=8)
    routing, _ = most_frequent_routing(model, routing_images)
    freeze_routing(model, routing, per_image_scales=True)
    dataset = _dataset(model, random_images(n=32, size=8, seed=1))
    value = routing_value(model, dataset, routing_images)
    assert value["top_routing_share"] == 1.0
    assert value["on_top"]["share"] == 1.0
    assert value["off_top"] == {
        "share": 0.0,
        "routed_top1": None,
        "top_routing_top1": None,
    }
    assert value["gain"] == 0.0
    assert value["routed"] == value["top_routing"]


def test_per_image_scales_exclude_unit_scales():
    model = _model()
    routing, _ = most_frequent_routing(model, random_images(n=8, size=8))
    with pytest.raises(ValueError, match="exclude each other"):
        freeze_routing(model, routing, unit_scales=True, per_image_scales=True)


def test_bad_input_is_named():
    images = random_images(n=8, size=8)
    static = cifar_resnet(8, gating="none", input_shape=(8, 8, 3))
    dataset = tf.data.Dataset.from_tensor_slices(
        (images, np.zeros(8, np.int64))
    ).batch(4)
    with pytest.raises(ValueError, match="has no gates"):
        routing_value(static, dataset, images)
    with pytest.raises(ValueError, match="`routing_images` is empty"):
        routing_value(_model(), dataset, images[:0])


def test_routed_results_already_computed_are_used_not_rerun():
    model = _model()
    dataset = _dataset(model, random_images(n=32, size=8, seed=1))
    routing_images = random_images(n=64, size=8)
    routed = per_image_results(model, dataset)
    value = routing_value(model, dataset, routing_images)
    assert routing_value(model, dataset, routing_images, routed=routed) == (
        value
    )
    # Given results are what the routed side reports: every answer
    # changed there, and nowhere else.
    wrong = dict(routed, predictions=(routed["predictions"] + 1) % 10)
    changed = routing_value(model, dataset, routing_images, routed=wrong)
    assert changed["routed"]["top1"] == 0.0
    assert changed["top_routing"] == value["top_routing"]
