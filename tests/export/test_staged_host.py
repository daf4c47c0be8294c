import numpy as np
import pytest
import tensorflow as tf

from lcnet_tf.export import fold_model
from lcnet_tf.export import keras_reference
from lcnet_tf.export.forms import staged_functions
from lcnet_tf.export.manifest import staged_manifest
from lcnet_tf.export.staged_host import body_width
from lcnet_tf.export.staged_host import run_staged
from lcnet_tf.models import cifar_resnet
from tests.export.conftest import make_model
from tests.fixtures import random_images
from tests.fixtures import randomize_gates
from tests.fixtures import warm_up_batch_norm

_ORDER = ("images", "features", "channel_scale", "block_scale")


def test_host_loop_over_tf_functions_matches_keras_and_calibrates_all():
    model = make_model("lc", channel_selection="nested", channel_groups=4)
    network = fold_model(model)
    functions, stages = staged_functions(network)
    manifest = staged_manifest(network, stages)
    images = random_images(4, seed=21)
    reference = keras_reference(model, images)
    called = set()

    def run(signature, inputs):
        called.add(signature)
        args = [inputs[key] for key in _ORDER if key in inputs]
        return functions[signature](*args)

    for index in range(len(images)):
        image = tf.constant(images[index : index + 1])
        plain = run_staged(manifest, run, image)
        np.testing.assert_array_equal(
            plain["decisions"][0], reference["decisions"][index]
        )
        assert plain["flops"][0] == reference["flops"][index]
        np.testing.assert_allclose(
            plain["logits"][0], reference["logits"][index], atol=1e-4
        )
        calibrated = run_staged(manifest, run, image, calibrate=True)
        np.testing.assert_array_equal(calibrated["logits"], plain["logits"])
        assert calibrated["flops"][0] == plain["flops"][0]
    # Calibration reaches every signature, also the widths never chosen.
    assert called == set(functions)


@pytest.mark.parametrize("fuse_gates", [True, False])
def test_each_gate_runs_in_the_call_that_made_its_input(fuse_gates):
    # One signature call per block that runs: the stem and each body also
    # return the next block's gate outputs. A gate signature is called
    # only after a skipped block, whose output is its input (or for every
    # gated block in an unfused export).
    model = cifar_resnet(14, gating="lc", channel_groups=4)
    warm_up_batch_norm(model, random_images(8, seed=5))
    randomize_gates(model, seed=3)
    network = fold_model(model)
    functions, stages = staged_functions(network, fuse_gates)
    manifest = staged_manifest(network, stages)
    images = random_images(12, seed=5)
    reference = keras_reference(model, images)
    blocks = manifest["blocks"]
    skips = 0
    for index in range(len(images)):
        calls = []

        def run(signature, inputs, calls=calls):
            calls.append(signature)
            args = [inputs[key] for key in _ORDER if key in inputs]
            return functions[signature](*args)

        out = run_staged(manifest, run, tf.constant(images[index : index + 1]))
        np.testing.assert_array_equal(
            out["decisions"][0], reference["decisions"][index]
        )
        runs = [True] * len(blocks)
        gated = [i for i, b in enumerate(blocks) if b["gate"]]
        for position, i in enumerate(gated):
            runs[i] = out["decisions"][0][position][0] > 0.5
        expected = ["stem"]
        for i, block in enumerate(blocks):
            after_skip = i > 0 and not runs[i - 1]
            if block["gate"] and (after_skip or not fuse_gates):
                expected.append(block["gate"])
            if runs[i]:
                expected.append(block["body"])
        expected.append("head")
        assert calls == expected
        skips += runs.count(False)
    assert skips  # the images skip some blocks


def test_body_width_is_the_narrowest_that_holds_the_last_kept_channel():
    def keep(*channels, size=16):
        out = np.zeros((1, size), np.float32)
        out[0, list(channels)] = 1.0
        return out

    prefix = {"name": "b", "channel_selection": "prefix"}
    prefix["widths"] = {"0": "w0", "8": "w8", "16": "w16"}
    assert body_width(prefix, keep()) == "0"
    assert body_width(prefix, keep(0, 7)) == "8"
    assert body_width(prefix, keep(1, 8)) == "16"
    # Closed channels inside the span do not narrow it.
    assert body_width(prefix, keep(15)) == "16"
    short = dict(prefix, widths={"8": "w8"})
    assert body_width(short, keep()) == "8"
    with pytest.raises(ValueError, match="'b' kept channel 12 but has"):
        body_width(short, keep(12))
    nested = {"name": "n", "widths": {"0": "a", "4": "b", "8": "c"}}
    assert body_width(nested, keep(0, 1, 2, 3, size=8)) == "4"
    assert body_width(nested, keep(size=8)) == "0"
    # Every kept width of a nested gate has its own body.
    with pytest.raises(ValueError, match="'n' kept 6 channels but has"):
        body_width(nested, keep(*range(6), size=8))
