import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

# Two logical CPU devices, so MirroredStrategy tests run on this CPU
# machine. Must happen before any TensorFlow op.
tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0],
    [tf.config.LogicalDeviceConfiguration()] * 2,
)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_CIFAR10 = os.path.join(REPO, "..", "shared", "data", "cifar10")


@pytest.fixture(autouse=True, scope="module")
def _module_seed():
    # Module-scoped fixtures are built before the per-test seed below, so
    # without this their models would depend on which tests ran first
    # (in another order, or on another pytest-xdist worker).
    keras.utils.set_random_seed(1234)


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(1234)


@pytest.fixture(scope="session")
def cifar10_dir():
    """The real CIFAR-10 binaries; required in CI, skipped elsewhere."""
    path = os.environ.get("LCNET_DATA_DIR") or SHARED_CIFAR10
    if not os.path.isdir(os.path.join(path, "cifar-10-batches-bin")):
        if os.environ.get("CI"):
            pytest.fail(f"CIFAR-10 binaries missing under {path}")
        pytest.skip(f"CIFAR-10 binaries not found under {path}")
    return path
