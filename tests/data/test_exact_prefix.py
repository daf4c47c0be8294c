import numpy as np
import pytest

from lcnet_tf.data.cifar10 import cifar10_arrays
from lcnet_tf.data.exact_prefix import exact_prefix_arrays
from lcnet_tf.data.exact_prefix import exact_prefix_report
from lcnet_tf.models import cifar_resnet


def test_exact_prefix_matches_the_rebuilt_test_images(cifar10_dir):
    exact, labels = exact_prefix_arrays(cifar10_dir)
    rebuilt, rebuilt_labels = cifar10_arrays(
        "test", cifar10_dir, num_examples=len(exact)
    )
    assert exact.shape == (1017, 32, 32, 3) and exact.dtype == np.float32
    np.testing.assert_array_equal(labels, rebuilt_labels)
    # Same images, JPEG round trip apart: close but not identical.
    diff = np.abs(exact - rebuilt)
    assert 0 < diff.mean() < 0.2


def test_report_compares_both(cifar10_dir):
    report = exact_prefix_report(cifar_resnet(8), cifar10_dir)
    assert report["images"] == 1017
    for key in ("top1_exact", "top1_rebuilt", "agreement"):
        assert 0.0 <= report[key] <= 1.0


def test_missing_and_corrupt(tmp_path):
    with pytest.raises(FileNotFoundError, match="exact-prefix"):
        exact_prefix_arrays(str(tmp_path))
    (tmp_path / "exact-prefix").mkdir()
    (tmp_path / "exact-prefix" / "test_batch.bin").write_bytes(b"\0" * 100)
    with pytest.raises(ValueError, match="records"):
        exact_prefix_arrays(str(tmp_path))
