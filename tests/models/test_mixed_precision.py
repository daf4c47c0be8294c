import keras
import numpy as np
import pytest

from lcnet_tf.flops import count_flops
from lcnet_tf.flops import flops_per_image
from lcnet_tf.models import cifar_resnet
from tests.fixtures import random_images
from tests.fixtures import randomize_gates


@pytest.fixture(params=["mixed_float16", "mixed_bfloat16"])
def policy(request):
    keras.mixed_precision.set_global_policy(request.param)
    yield request.param
    keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("gating", ["lc", "aig", "none"])
def test_fit_evaluate_save_load(policy, gating, tmp_path):
    model = cifar_resnet(14, gating=gating, input_shape=(8, 8, 3))
    assert model.get_layer("stem_conv").compute_dtype != "float32"
    model.compile(
        keras.optimizers.SGD(0.01),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    images = random_images(n=16, size=8)
    labels = np.arange(16) % 10
    history = model.fit(images, labels, batch_size=8, verbose=0).history
    assert np.isfinite(history["loss"][-1])
    logs = model.evaluate(images, labels, verbose=0, return_dict=True)
    if gating != "none":
        # A block's MACs overflow float16; the budget works in float32.
        assert model.get_layer("flops_budget").compute_dtype == "float32"
        assert 0.0 < logs["flops_ratio"] < 1.01
    assert model.outputs[0].dtype == "float32"
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        loaded.predict(images, verbose=0), model.predict(images, verbose=0)
    )


def test_in_graph_flops_ratio_matches_exact_counts(policy):
    model = cifar_resnet(14, gating="lc", input_shape=(8, 8, 3))
    randomize_gates(model, seed=4)
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(True))
    images = random_images(n=32, size=8)
    flops = flops_per_image(model, images, batch_size=32)
    assert flops.dtype == np.int64 and count_flops(model) > 65_504
    # Routing varies, and the budget layer's float ratio (float32, not
    # the policy's float16/bfloat16) equals the exact integer counts.
    assert len(set(flops)) > 3
    logs = model.evaluate(
        images, np.zeros(32), batch_size=32, verbose=0, return_dict=True
    )
    static = count_flops(model, gates=False)
    np.testing.assert_allclose(logs["flops_ratio"], flops.mean() / static, 1e-5)


def test_mixed_model_exports_to_float32_tflite(policy, tmp_path):
    from lcnet_tf.export import TFLiteModel
    from lcnet_tf.export import to_tflite

    model = cifar_resnet(8, gating="lc", input_shape=(32, 32, 3))
    keras.mixed_precision.set_global_policy("float32")
    reference = cifar_resnet(8, gating="lc", input_shape=(32, 32, 3))
    reference.set_weights(model.get_weights())
    path = str(tmp_path / "m.tflite")
    to_tflite(model, path, form="dynamic")
    images = random_images(n=1, size=32)
    outputs = TFLiteModel(path)(images)
    assert outputs["logits"].dtype == np.float32
    # The export computes in float32: it matches the float32 twin.
    np.testing.assert_allclose(
        outputs["logits"], reference.predict(images, verbose=0), atol=1e-4
    )
