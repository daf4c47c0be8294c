import numpy as np
import pytest
import tensorflow_datasets as tfds

from lcnet_tf.data import CIFAR10_MEAN
from lcnet_tf.data import CIFAR10_STD
from lcnet_tf.data import cifar10_dataset
from lcnet_tf.data import cifar10_raw
from lcnet_tf.data import find_binary_files

RECORD = 3073


def _write_batch(path, labels, rng):
    records = np.zeros((len(labels), RECORD), np.uint8)
    records[:, 0] = labels
    records[:, 1:] = rng.integers(0, 256, (len(labels), RECORD - 1))
    path.write_bytes(records.tobytes())
    return records


def test_real_test_split(cifar10_dir):
    images, labels = [], []
    for image, label in cifar10_raw("test", cifar10_dir):
        images.append(image.numpy())
        labels.append(int(label))
    assert len(labels) == 10_000
    assert np.bincount(labels).tolist() == [1000] * 10
    assert images[0].shape == (32, 32, 3) and images[0].dtype == np.uint8
    # The binary layout is channel-planar: check the transpose.
    raw = np.fromfile(find_binary_files(cifar10_dir, "test")[0], np.uint8)
    np.testing.assert_array_equal(
        images[0], raw[1:RECORD].reshape(3, 32, 32).transpose(1, 2, 0)
    )
    assert labels[0] == raw[0]


def test_pipeline_normalises_and_augments(cifar10_dir):
    test = cifar10_dataset(
        "test", cifar10_dir, batch_size=1000, num_examples=2000
    )
    batches = list(test)
    assert [b[0].shape[0] for b in batches] == [1000, 1000]
    images = np.concatenate([b[0].numpy() for b in batches])
    np.testing.assert_allclose(images.mean((0, 1, 2)), 0, atol=0.1)
    np.testing.assert_allclose(images.std((0, 1, 2)), 1, atol=0.1)
    train = cifar10_dataset(
        "train", cifar10_dir, batch_size=64, num_examples=64, shuffle_seed=1
    )
    first = next(iter(train))[0].numpy()
    second = next(iter(train))[0].numpy()
    assert first.shape == (64, 32, 32, 3)
    assert not np.allclose(np.sort(first.ravel()), np.sort(second.ravel()))


def _epochs(data_dir, seed, epochs=2):
    train = cifar10_dataset(
        "train", data_dir, batch_size=16, num_examples=32, shuffle_seed=seed
    )
    return [
        np.concatenate([b[0].numpy() for b in train]) for _ in range(epochs)
    ]


def test_a_seed_gives_the_same_augmented_images(cifar10_dir):
    # Whatever order the parallel map runs in: distributed workers and a
    # one-process run see the same images (test_distributed_runs.py).
    first, again, other = (
        _epochs(cifar10_dir, 7),
        _epochs(cifar10_dir, 7),
        _epochs(cifar10_dir, 8),
    )
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])
    # Every epoch has new crops and flips of the same images.
    assert not np.array_equal(np.sort(first[0], 0), np.sort(first[1], 0))
    np.testing.assert_allclose(
        np.sort(first[0].mean((1, 2, 3))),
        np.sort(first[1].mean((1, 2, 3))),
        atol=0.5,
    )


def test_exact_prefix_folder(cifar10_dir):
    folder = f"{cifar10_dir}/exact-prefix"
    labels = [int(y) for _, y in cifar10_raw("test", folder)]
    assert len(labels) == 1017


def test_local_folder_layouts_and_errors(tmp_path):
    rng = np.random.default_rng(0)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        find_binary_files(tmp_path / "nope", "test")
    with pytest.raises(FileNotFoundError, match="test_batch.bin.*cifar"):
        find_binary_files(tmp_path, "test")
    records = _write_batch(tmp_path / "test_batch.bin", [3, 7], rng)
    ((image, label),) = list(
        cifar10_dataset("test", tmp_path, batch_size=1, num_examples=1)
    )
    expected = records[0, 1:].reshape(3, 32, 32).transpose(1, 2, 0)
    expected = (expected / 255.0 - CIFAR10_MEAN) / CIFAR10_STD
    np.testing.assert_allclose(image[0], expected, atol=1e-5)
    assert int(label[0]) == 3
    with pytest.raises(FileNotFoundError, match="data_batch_1.bin"):
        find_binary_files(tmp_path, "train")
    (tmp_path / "test_batch.bin").write_bytes(records.tobytes()[:-10])
    with pytest.raises(ValueError, match="truncated"):
        find_binary_files(tmp_path, "test")
    _write_batch(tmp_path / "test_batch.bin", [3, 12], rng)
    with pytest.raises(ValueError, match="label 12"):
        find_binary_files(tmp_path, "test")
    with pytest.raises(ValueError, match="split"):
        cifar10_raw("validation", tmp_path)
    with pytest.raises(ValueError, match="batch_size"):
        cifar10_dataset("test", tmp_path, batch_size=0)


def test_environment_variable_and_tfds_fallback(tmp_path, monkeypatch):
    _write_batch(tmp_path / "test_batch.bin", [1], np.random.default_rng(1))
    monkeypatch.setenv("LCNET_DATA_DIR", str(tmp_path))
    assert [int(y) for _, y in cifar10_raw("test")] == [1]
    monkeypatch.delenv("LCNET_DATA_DIR")
    with tfds.testing.mock_data(num_examples=6):
        images, labels = next(iter(cifar10_dataset("test", batch_size=6)))
    assert images.shape == (6, 32, 32, 3) and labels.dtype == "int32"


def test_tfds_failure_names_the_data_dir(monkeypatch):
    monkeypatch.delenv("LCNET_DATA_DIR", raising=False)

    def offline(*args, **kwargs):
        raise ConnectionError("Failed to resolve 'www.cs.toronto.edu'")

    monkeypatch.setattr(tfds, "load", offline)
    with pytest.raises(RuntimeError, match="LCNET_DATA_DIR.*toronto"):
        cifar10_raw("test")
