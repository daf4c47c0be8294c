"""ImageNet (ILSVRC 2012) input pipeline through tensorflow-datasets."""

import tensorflow as tf

from lcnet_tf.data.statistics import IMAGENET_MEAN
from lcnet_tf.data.statistics import IMAGENET_STD

# Eval images are resized so that the center crop keeps 87.5% of the
# shorter side, the standard ResNet evaluation protocol.
CENTER_CROP_FRACTION = 0.875
MANUAL_HINT = (
    "imagenet2012 cannot be downloaded automatically: place "
    "ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar in "
    "<data_dir>/downloads/manual (see the tensorflow-datasets catalog)."
)


def _normalize(image):
    image = tf.cast(image, tf.float32) / 255.0
    return (image - IMAGENET_MEAN) / IMAGENET_STD


def preprocess_train(image, image_size):
    """Inception-style random-resized crop (8%-100% area) and flip."""
    begin, size, _ = tf.image.sample_distorted_bounding_box(
        tf.shape(image),
        bounding_boxes=tf.zeros((1, 0, 4)),
        min_object_covered=0.1,
        aspect_ratio_range=(3 / 4, 4 / 3),
        area_range=(0.08, 1.0),
        max_attempts=10,
        use_image_if_no_bounding_boxes=True,
    )
    image = tf.slice(image, begin, size)
    image = tf.image.resize(image, (image_size, image_size))
    image = tf.image.random_flip_left_right(image)
    return _normalize(image)


def preprocess_eval(image, image_size):
    """Resize the shorter side to `image_size / 0.875`, center crop."""
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    resize_to = image_size / CENTER_CROP_FRACTION
    scale = resize_to / tf.reduce_min(shape)
    new_shape = tf.cast(tf.round(shape * scale), tf.int32)
    image = tf.image.resize(image, new_shape)
    image = tf.image.resize_with_crop_or_pad(image, image_size, image_size)
    return _normalize(image)


def imagenet_dataset(
    split="train",
    data_dir=None,
    batch_size=256,
    image_size=224,
    training=None,
    num_examples=None,
    shuffle_seed=None,
):
    """Batched ImageNet with standard ResNet preprocessing.

    Reads the tfds `imagenet2012` dataset, which needs the manual download
    (see `MANUAL_HINT`). Files are read in parallel and, under a
    `tf.distribute` strategy, sharded automatically.

    Args:
        split: str. A tfds split, e.g. `"train"` or `"validation"`.
        data_dir: str or None. The tfds data dir.
        batch_size: int. Global batch size.
        image_size: int. Side of the square crops.
        training: bool or None. Random-resized crops and shuffling;
            defaults to `split == "train"`.
        num_examples: int or None. Use only the first `num_examples`.
        shuffle_seed: int or None. Shuffle seed.

    Returns:
        A `tf.data.Dataset` of `(float32 images, int32 labels)`.

    Example:

    ```python
    train = imagenet_dataset("train", data_dir="/data/tfds")
    ```
    """
    import tensorflow_datasets as tfds

    training = split.startswith("train") if training is None else training
    try:
        dataset = tfds.load(
            "imagenet2012",
            split=split,
            data_dir=data_dir,
            as_supervised=True,
            shuffle_files=training,
            read_config=tfds.ReadConfig(shuffle_seed=shuffle_seed),
        )
    except AssertionError as error:
        raise FileNotFoundError(f"{MANUAL_HINT} ({error})") from error
    if num_examples is not None:
        dataset = dataset.take(int(num_examples))
    if training:
        dataset = dataset.shuffle(10 * batch_size, seed=shuffle_seed)
        preprocess = preprocess_train
    else:
        preprocess = preprocess_eval
    dataset = dataset.map(
        lambda image, label: (
            preprocess(image, image_size),
            tf.cast(label, tf.int32),
        ),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    dataset = dataset.batch(batch_size, drop_remainder=training)
    return dataset.prefetch(tf.data.AUTOTUNE)
