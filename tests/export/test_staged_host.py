import numpy as np
import tensorflow as tf

from lcnet_tf.export import fold_model
from lcnet_tf.export import keras_reference
from lcnet_tf.export.forms import staged_functions
from lcnet_tf.export.manifest import staged_manifest
from lcnet_tf.export.staged_host import run_staged
from tests.export.conftest import make_model
from tests.fixtures import random_images

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
