"""CIFAR-10 input pipeline: the official binary files, or tfds."""

import os

import numpy as np
import tensorflow as tf

from lcnet_tf.data.statistics import CIFAR10_MEAN
from lcnet_tf.data.statistics import CIFAR10_STD

RECORD_BYTES = 1 + 32 * 32 * 3
NUM_CLASSES = 10
CLASS_NAMES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
BINARY_FOLDER = "cifar-10-batches-bin"
SPLIT_FILES = {
    "train": tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
    "test": ("test_batch.bin",),
}
DATA_DIR_ENV = "LCNET_DATA_DIR"
DOWNLOAD_HINT = (
    "Get the official binary version (cifar-10-binary.tar.gz, from "
    "https://www.cs.toronto.edu/~kriz/cifar.html) and extract it there, "
    "or pass no data dir to let tensorflow-datasets download CIFAR-10."
)


def _check_split(split):
    if split not in SPLIT_FILES:
        raise ValueError(
            f"CIFAR-10 `split` must be one of {sorted(SPLIT_FILES)}. "
            f"Received: split={split!r}"
        )


def find_binary_files(data_dir, split):
    """The CIFAR-10 `.bin` files of `split` under `data_dir`.

    `data_dir` may be the `cifar-10-batches-bin` folder itself or a folder
    holding it. Each file is checked for the 3,073-byte record layout and
    for labels in 0-9.

    Args:
        data_dir: str. Where the binary files are.
        split: str. `"train"` or `"test"`.

    Returns:
        A list of file paths.

    Raises:
        FileNotFoundError: if the folder or a file of the split is missing.
        ValueError: if a file is truncated or is not CIFAR-10 binary data.
    """
    _check_split(split)
    data_dir = os.fspath(data_dir)
    if not os.path.isdir(data_dir):
        raise FileNotFoundError(
            f"CIFAR-10 data dir '{data_dir}' does not exist. {DOWNLOAD_HINT}"
        )
    folder = data_dir
    if os.path.isdir(os.path.join(data_dir, BINARY_FOLDER)):
        folder = os.path.join(data_dir, BINARY_FOLDER)
    paths = [os.path.join(folder, name) for name in SPLIT_FILES[split]]
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise FileNotFoundError(
            f"CIFAR-10 {split} files missing under '{data_dir}': "
            f"{', '.join(os.path.basename(p) for p in missing)}. "
            f"{DOWNLOAD_HINT}"
        )
    for path in paths:
        size = os.path.getsize(path)
        if size == 0 or size % RECORD_BYTES:
            raise ValueError(
                f"'{path}' is not a CIFAR-10 binary batch: {size} bytes is "
                f"not a whole number of {RECORD_BYTES}-byte records "
                f"(truncated or corrupt download?). {DOWNLOAD_HINT}"
            )
        labels = np.fromfile(path, dtype=np.uint8)[::RECORD_BYTES]
        if labels.max() >= NUM_CLASSES:
            raise ValueError(
                f"'{path}' is not a CIFAR-10 binary batch: found label "
                f"{int(labels.max())} (labels must be 0-9)."
            )
    return paths


def _decode_record(record):
    raw = tf.io.decode_raw(record, tf.uint8)
    label = tf.cast(raw[0], tf.int32)
    image = tf.transpose(tf.reshape(raw[1:], (3, 32, 32)), (1, 2, 0))
    return image, label


def normalize_cifar10(images):
    """Maps uint8 pixels (0-255) to per-channel standardised float32.

    Args:
        images: uint8 tensor or array `(..., 32, 32, 3)`.

    Returns:
        float32 tensor of the same shape.
    """
    images = tf.cast(images, tf.float32) / 255.0
    return (images - CIFAR10_MEAN) / CIFAR10_STD


def _to_float(images):
    return tf.cast(images, tf.float32)


def _augment(example, seed):
    # Stateless ops seeded per image: the same `shuffle_seed` gives the
    # same crops and flips whatever order the parallel map runs in, so a
    # seeded run is reproducible and every worker of a distributed run
    # sees the images a one-process run would.
    image, label = example
    image = tf.image.pad_to_bounding_box(image, 4, 4, 40, 40)
    image = tf.image.stateless_random_crop(image, (32, 32, 3), seed=seed[0])
    image = tf.image.stateless_random_flip_left_right(image, seed=seed[1])
    return image, label


def resolve_data_dir(data_dir=None):
    """The local CIFAR-10 folder to use, or None to use tfds.

    An explicit `data_dir` wins, then the `LCNET_DATA_DIR` environment
    variable; with neither, the pipeline falls back to tfds.
    """
    if data_dir:
        return os.fspath(data_dir)
    return os.environ.get(DATA_DIR_ENV) or None


def cifar10_raw(split="train", data_dir=None):
    """Undecorated CIFAR-10 examples: `(uint8 image, int32 label)` pairs.

    Args:
        split: str. `"train"` (50,000 images) or `"test"` (10,000).
        data_dir: str or None. A folder with the official binary files;
            None uses `$LCNET_DATA_DIR`, then tensorflow-datasets.

    Returns:
        A `tf.data.Dataset`, in file order.
    """
    _check_split(split)
    local = resolve_data_dir(data_dir)
    if local is not None:
        files = find_binary_files(local, split)
        dataset = tf.data.FixedLengthRecordDataset(files, RECORD_BYTES)
        return dataset.map(_decode_record, num_parallel_calls=tf.data.AUTOTUNE)
    import tensorflow_datasets as tfds

    try:
        dataset = tfds.load("cifar10", split=split, as_supervised=True)
    except Exception as error:
        # Offline, tfds retries for minutes, then fails with whatever
        # its downloader raised; say what the user can do instead.
        raise RuntimeError(
            f"No CIFAR-10 data dir was given (argument or "
            f"${DATA_DIR_ENV}), and tensorflow-datasets could not load "
            f"CIFAR-10: {type(error).__name__}: {error}. Pass the folder "
            f"of the official binary files (e.g. --data_dir)."
        ) from error
    return dataset.map(lambda image, label: (image, tf.cast(label, tf.int32)))


def cifar10_dataset(
    split="train",
    data_dir=None,
    batch_size=128,
    training=None,
    num_examples=None,
    shuffle_seed=None,
    drop_remainder=None,
    normalize=True,
):
    """Batched, normalised CIFAR-10 for `fit` / `evaluate`.

    Training adds the standard augmentation (4-pixel zero padding, random
    32x32 crop, horizontal flip) and a full shuffle each epoch.

    Args:
        split: str. `"train"` or `"test"`.
        data_dir: str or None. See `cifar10_raw`.
        batch_size: int. Images per batch.
        training: bool or None. Augment and shuffle; defaults to
            `split == "train"`.
        num_examples: int or None. Use only the first `num_examples`.
        shuffle_seed: int or None. Seed of the shuffle and augmentation:
            a seed gives the same images in the same order every time.
        drop_remainder: bool or None. Defaults to `training`.
        normalize: bool. False keeps 0-255 pixel values (as float32),
            for a model built with `include_preprocessing=True`.

    Returns:
        A `tf.data.Dataset` of `(float32 images (b, 32, 32, 3), int32
        labels (b,))`.

    Example:

    ```python
    train = cifar10_dataset("train", data_dir="data/cifar10")
    model.fit(train, epochs=10)
    ```
    """
    if int(batch_size) < 1:
        raise ValueError(f"`batch_size` must be >= 1. Received: {batch_size}")
    training = split == "train" if training is None else training
    drop_remainder = training if drop_remainder is None else drop_remainder
    dataset = cifar10_raw(split, data_dir)
    if num_examples is not None:
        if int(num_examples) < 1:
            raise ValueError(
                f"`num_examples` must be >= 1. Received: {num_examples}"
            )
        dataset = dataset.take(int(num_examples))
    dataset = dataset.cache()
    if training:
        dataset = dataset.shuffle(
            50_000, seed=shuffle_seed, reshuffle_each_iteration=True
        )
        # Two seeds per image, new ones each epoch.
        seeds = tf.data.Dataset.random(
            seed=shuffle_seed, rerandomize_each_iteration=True
        ).batch(4)
        dataset = tf.data.Dataset.zip(
            dataset, seeds.map(lambda s: tf.reshape(s, (2, 2)))
        ).map(_augment, num_parallel_calls=tf.data.AUTOTUNE)
    prepare = normalize_cifar10 if normalize else _to_float
    dataset = dataset.map(
        lambda image, label: (prepare(image), label),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    dataset = dataset.batch(int(batch_size), drop_remainder=drop_remainder)
    return dataset.prefetch(tf.data.AUTOTUNE)


def cifar10_arrays(
    split="test", data_dir=None, num_examples=None, start=0, normalize=True
):
    """Normalised CIFAR-10 images and labels as NumPy arrays, in file order.

    Args:
        split: str. `"train"` or `"test"`.
        data_dir: str or None. As in `cifar10_raw`.
        num_examples: int or None. How many images (None: all).
        start: int. Index of the first image.
        normalize: bool. False returns the uint8 pixels, for models that
            take them (`include_preprocessing=True`).

    Returns:
        `(images (n, 32, 32, 3), labels int32 (n,))`: float32 images, or
        uint8 with `normalize=False`.

    Example:
    ```python
    x_test, y_test = cifar10_arrays("test", num_examples=1000)
    ```
    """
    dataset = cifar10_raw(split, data_dir).skip(int(start))
    if num_examples is not None:
        dataset = dataset.take(int(num_examples))
    dataset = dataset.batch(1000)
    if normalize:
        dataset = dataset.map(
            lambda image, label: (normalize_cifar10(image), label)
        )
    images, labels = [], []
    for image, label in dataset.as_numpy_iterator():
        images.append(image)
        labels.append(label)
    if not images:
        raise ValueError(
            f"No CIFAR-10 {split} images from index {start} (asked for "
            f"{num_examples})."
        )
    return np.concatenate(images), np.concatenate(labels).astype(np.int32)


def locate_cifar10(data_dir=None, candidates=("../shared/data/cifar10",)):
    """Finds local CIFAR-10 binaries for notebooks and scripts.

    Looks at `data_dir`, then `$LCNET_DATA_DIR`, then `candidates`. With
    none found it returns None in Google Colab (where tensorflow-datasets
    downloads CIFAR-10) and otherwise raises an error saying how to get
    the data.

    Returns:
        A folder path, or None to use tensorflow-datasets.

    Raises:
        FileNotFoundError: no data here and no way to download it.
    """
    for path in (data_dir, os.environ.get(DATA_DIR_ENV), *candidates):
        if path and os.path.isdir(os.path.join(path, BINARY_FOLDER)):
            return path
        if path and os.path.isfile(os.path.join(path, "test_batch.bin")):
            return path
    try:
        import google.colab  # noqa: F401

        return None
    except ImportError:
        pass
    raise FileNotFoundError(
        "CIFAR-10 not found. Download the binary version "
        "(https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz), "
        "extract it and set LCNET_DATA_DIR to the folder holding "
        "'cifar-10-batches-bin' (or pass data_dir). In Google Colab, "
        "tensorflow-datasets downloads it for you."
    )
