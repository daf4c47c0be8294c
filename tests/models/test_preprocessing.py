import keras
import numpy as np
import pytest

from lcnet_tf.data.cifar10 import normalize_cifar10
from lcnet_tf.flops import count_flops
from lcnet_tf.flops import flops_per_image
from lcnet_tf.models import add_preprocessing
from lcnet_tf.models import cifar_resnet
from lcnet_tf.models import has_preprocessing
from lcnet_tf.models import imagenet_resnet
from lcnet_tf.models.preprocessing import preprocessing_layers
from tests.fixtures import randomize_gates


def _pixels(n=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)


def test_pixel_model_matches_normalised_model_with_same_weights():
    pixels = _pixels()
    plain = cifar_resnet(8, gating="lc", seed=1)
    raw = cifar_resnet(8, gating="lc", seed=1, include_preprocessing=True)
    randomize_gates(plain, seed=3)
    for layer in plain.layers:
        if layer.weights:
            raw.get_layer(layer.name).set_weights(layer.get_weights())
    assert has_preprocessing(raw) and not has_preprocessing(plain)
    expected = plain.predict(np.asarray(normalize_cifar10(pixels)), verbose=0)
    np.testing.assert_allclose(
        raw.predict(pixels, verbose=0), expected, atol=1e-4
    )
    # Preprocessing is free under the FLOPs convention; per-image FLOPs
    # take the pixels as they come.
    assert count_flops(raw) == count_flops(plain)
    np.testing.assert_array_equal(
        flops_per_image(raw, pixels),
        flops_per_image(plain, np.asarray(normalize_cifar10(pixels))),
    )


def test_pixel_model_survives_a_keras_round_trip(tmp_path):
    model = cifar_resnet(8, gating="l", include_preprocessing=True)
    path = str(tmp_path / "raw.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert has_preprocessing(loaded)
    pixels = _pixels(3).astype("float32")
    np.testing.assert_allclose(
        loaded.predict(pixels, verbose=0),
        model.predict(pixels, verbose=0),
        atol=1e-6,
    )


def test_add_preprocessing_keeps_the_weights_and_the_original():
    pixels = _pixels()
    model = cifar_resnet(8, gating="lc", seed=2)
    randomize_gates(model, seed=4)
    raw = add_preprocessing(model)
    assert raw is not model and not has_preprocessing(model)
    assert [w.shape for w in raw.weights] == [w.shape for w in model.weights]
    np.testing.assert_allclose(
        raw.predict(pixels, verbose=0),
        model.predict(np.asarray(normalize_cifar10(pixels)), verbose=0),
        atol=1e-4,
    )
    with pytest.raises(ValueError, match="already takes 0-255 pixels"):
        add_preprocessing(raw)


def test_imagenet_pixels_are_standardised_with_imagenet_statistics():
    model = imagenet_resnet(
        18, input_shape=(32, 32, 3), include_preprocessing=True
    )
    norm = model.get_layer("normalization")
    np.testing.assert_allclose(
        np.asarray(norm.mean).reshape(-1), [0.485, 0.456, 0.406], atol=1e-6
    )


def test_pixel_checks_name_the_problem():
    with pytest.raises(ValueError, match="`std` must be positive"):
        preprocessing_layers((0.5, 0.5, 0.5), (0.2, 0.0, 0.2))
    with pytest.raises(ValueError, match="per-channel lists of one length"):
        preprocessing_layers((0.5, 0.5), (0.2, 0.2, 0.2))
    raw = cifar_resnet(8, gating="l", include_preprocessing=True)
    with pytest.raises(ValueError, match="pixels in 0-255"):
        flops_per_image(raw, np.full((1, 32, 32, 3), 300.0, "float32"))
    plain = cifar_resnet(8, gating="l")
    with pytest.raises(ValueError, match="include_preprocessing=True"):
        flops_per_image(plain, _pixels(1))


def test_pixel_model_fits_on_the_pixel_pipeline(cifar10_dir):
    from lcnet_tf.data.cifar10 import cifar10_dataset

    data = cifar10_dataset(
        "train", cifar10_dir, batch_size=16, num_examples=32, normalize=False
    )
    images, _ = next(iter(data))
    assert float(images.numpy().max()) > 1.0
    model = cifar_resnet(8, gating="lc", include_preprocessing=True)
    model.compile(
        "sgd",
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    history = model.fit(data, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
