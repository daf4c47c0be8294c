import numpy as np
import pytest

from lcnet_tf.export import TFLiteModel
from lcnet_tf.export import fold_model
from lcnet_tf.export import prune_network
from lcnet_tf.export import to_tflite
from lcnet_tf.flops import gated_blocks
from lcnet_tf.models import cifar_resnet
from lcnet_tf.training.frozen_routing import freeze_routing
from lcnet_tf.training.frozen_routing import most_frequent_routing
from tests.fixtures import random_images
from tests.fixtures import randomize_gates
from tests.fixtures import tiny_bottleneck_resnet
from tests.fixtures import warm_up_batch_norm


def _frozen(model, size, per_image_scales=False):
    images = random_images(n=32, size=size)
    warm_up_batch_norm(model, images)
    randomize_gates(model, seed=3, scale=0.5)
    routing, _ = most_frequent_routing(model, images)
    blocks = gated_blocks(model)
    # Every case the pruning handles, whatever the mode was: a closed
    # block, a block with every channel closed (with and without a
    # projection), a block with some channels closed.
    skippable = [b for b in blocks if b.block_gate is not None]
    projections = [b for b in blocks if b.projection]
    routing[skippable[0].name]["run"] = 0
    for block in (skippable[-1], projections[0]):
        routing[block.name]["run"] = 1
        routing[block.name]["channels"][:] = 0
    partial = routing[skippable[1].name]
    partial["run"] = 1
    partial["channels"][:] = 1
    partial["channels"][::3] = 0
    if per_image_scales:
        # The learned scales keep randomize_gates' input-dependent heads.
        freeze_routing(model, routing, per_image_scales=True)
    else:
        freeze_routing(model, routing, images)
    return model, images, routing


@pytest.mark.parametrize("scales", ["constant", "per_image"])
@pytest.mark.parametrize("kind", ["basic", "bottleneck"])
@pytest.mark.parametrize("form", ["masked", "dynamic"])
def test_pruned_export_is_the_frozen_model_without_its_gates(
    tmp_path, kind, form, scales
):
    if kind == "basic":
        model = cifar_resnet(
            14, gating="lc", input_shape=(16, 16, 3), channel_groups=4
        )
        size = 16
    else:
        model = tiny_bottleneck_resnet("lc", channel_groups=4)
        size = 32
    per_image = scales == "per_image"
    model, images, routing = _frozen(model, size, per_image)
    pruned = prune_network(fold_model(model))
    assert not pruned.gated_blocks
    # Scales learned per image stay heads of the blocks that run; every
    # other scale is folded into the weights.
    scaled = [b.name for b in pruned.blocks if b.scale_heads is not None]
    running = [
        b.name
        for b in gated_blocks(model)
        if routing[b.name]["run"] and routing[b.name]["channels"].any()
    ]
    assert set(scaled) >= (set(running) if per_image else set())
    assert bool(scaled) == per_image
    # Closed blocks without a projection are left out; every other block
    # keeps exactly its kept channels.
    kept = {b.name: b for b in pruned.blocks}
    widths = {
        b.name: b.convs[0].kernel.shape[-1] for b in fold_model(model).blocks
    }
    for block in gated_blocks(model):
        decision = routing[block.name]
        if not decision["run"] and not block.projection:
            assert block.name not in kept
            continue
        groups = decision["channels"]
        channels = 0
        if decision["run"]:
            channels = int(groups.sum()) * widths[block.name] // len(groups)
        convs = kept[block.name].convs
        if not channels and kept[block.name].scale_heads is not None:
            # A per-image block scale times the bias: one zero channel.
            assert per_image and not np.any(convs[-1].kernel)
            channels = 1
        assert [c.kernel.shape[-1] for c in convs[:-1]] == (
            [channels] * (len(convs) - 1) if channels else []
        )
    export = to_tflite(model, str(tmp_path / "p.tflite"), form=form, prune=True)
    full = to_tflite(model, str(tmp_path / "f.tflite"), form=form)
    assert export.size_bytes < 0.9 * full.size_bytes
    runner = TFLiteModel(export.path)
    expected = np.asarray(model(images[:4], training=False))
    for image, logits in zip(images[:4], expected):
        out = runner(image[None])
        assert set(out) == {"logits"}
        np.testing.assert_allclose(out["logits"][0], logits, atol=1e-4)


def test_only_constant_gates_can_be_pruned(tmp_path):
    model = cifar_resnet(8, gating="lc", input_shape=(16, 16, 3))
    randomize_gates(model)
    with pytest.raises(ValueError, match=r"blocks \['stage1_block1'"):
        prune_network(fold_model(model))
    model, _, _ = _frozen(
        cifar_resnet(14, gating="lc", input_shape=(16, 16, 3)), 16
    )
    with pytest.raises(ValueError, match="masked or dynamic"):
        to_tflite(model, str(tmp_path / "s.tflite"), form="staged", prune=True)
