import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from lcnet_tf.data import imagenet_dataset
from lcnet_tf.data.imagenet import preprocess_eval


def test_train_and_eval_pipelines_on_mock_data():
    with tfds.testing.mock_data(num_examples=8):
        train = imagenet_dataset("train", batch_size=4, image_size=64)
        images, labels = next(iter(train))
        val = imagenet_dataset("validation", batch_size=3, image_size=64)
        val_images, _ = next(iter(val))
    assert images.shape == (4, 64, 64, 3) and images.dtype == tf.float32
    assert labels.dtype == tf.int32
    assert np.all((labels.numpy() >= 0) & (labels.numpy() < 1000))
    assert val_images.shape == (3, 64, 64, 3)


def test_eval_center_crop_keeps_the_center():
    image = np.zeros((100, 200, 3), np.uint8)
    image[40:60, 90:110] = 255
    out = preprocess_eval(tf.constant(image), 32).numpy()
    # Resized to 36.6 x 73, center-cropped to 32 x 32: the white square
    # lands in the middle.
    center = out[14:18, 14:18].mean()
    corner = out[:4, :4].mean()
    assert center > corner + 1.0
