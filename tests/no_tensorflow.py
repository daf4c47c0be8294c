"""For the scripts that tests run in a subprocess without TensorFlow:
`block_tensorflow()` makes any import of it fail and selects Keras' JAX
backend, proving the parts they use need no TensorFlow."""

import importlib.abc
import os
import sys


class _NoTensorFlow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] == "tensorflow":
            raise ModuleNotFoundError(f"No module named {name!r} (blocked)")
        return None


def block_tensorflow():
    """Blocks TensorFlow for this process; call before importing Keras."""
    os.environ["KERAS_BACKEND"] = "jax"
    sys.meta_path.insert(0, _NoTensorFlow())
