import pytest

from lcnet_tf.models import cifar_resnet
from lcnet_tf.models import load_model


def test_missing_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="No model checkpoint"):
        load_model(tmp_path / "absent.keras")


def test_not_a_keras_file(tmp_path):
    path = tmp_path / "weights.h5"
    path.write_bytes(b"x")
    with pytest.raises(ValueError, match="not a `.keras` model file"):
        load_model(path)


def test_truncated_checkpoint(tmp_path):
    path = tmp_path / "model.keras"
    cifar_resnet(8, gating="l").save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="corrupt"):
        load_model(path)


def test_garbage_checkpoint(tmp_path):
    path = tmp_path / "model.keras"
    path.write_bytes(b"not a zip archive at all")
    with pytest.raises(ValueError, match="corrupt"):
        load_model(path)
