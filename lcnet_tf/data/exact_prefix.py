"""The first test images with their official pixels (shipped CIFAR-10 copy).

The CIFAR-10 shipped beside this project was rebuilt from JPEG files;
`exact-prefix/test_batch.bin` holds the first 1,017 test images with the
exact official pixels. Comparing a model on both shows how far the JPEG
round trip moves accuracy.
"""

import os

import numpy as np

from lcnet_tf.data.cifar10 import RECORD_BYTES
from lcnet_tf.data.cifar10 import cifar10_arrays
from lcnet_tf.data.cifar10 import normalize_cifar10

EXACT_PREFIX_FILE = os.path.join("exact-prefix", "test_batch.bin")


def exact_prefix_arrays(data_dir):
    """The exact-pixel test prefix, normalised, with its labels.

    Args:
        data_dir: str. The folder holding `cifar-10-batches-bin/` and
            `exact-prefix/`.

    Returns:
        `(images float32 (n, 32, 32, 3), labels int32 (n,))`.

    Raises:
        FileNotFoundError: no `exact-prefix/test_batch.bin` there.
        ValueError: the file is not whole CIFAR-10 records.
    """
    path = os.path.join(os.fspath(data_dir), EXACT_PREFIX_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No exact-prefix test batch at '{path}'.")
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % RECORD_BYTES:
        raise ValueError(
            f"'{path}' is not CIFAR-10 binary records ({raw.size} bytes)."
        )
    records = raw.reshape(-1, RECORD_BYTES)
    labels = records[:, 0].astype(np.int32)
    images = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.asarray(normalize_cifar10(images)), labels


def exact_prefix_report(model, data_dir, batch_size=500):
    """Top-1 on the exact-pixel prefix and on the same rebuilt images.

    Returns:
        dict: `images`, `top1_exact`, `top1_rebuilt`, `agreement` (share
        of images with the same predicted class on both).
    """
    from lcnet_tf.flops import inference_model

    exact, labels = exact_prefix_arrays(data_dir)
    rebuilt, rebuilt_labels = cifar10_arrays(
        "test", data_dir, num_examples=len(exact)
    )
    if not np.array_equal(labels, rebuilt_labels):
        raise ValueError(
            "The exact-prefix labels differ from the first test labels: "
            "not the same images."
        )
    runner = inference_model(model)
    pred_exact = runner.predict(exact, batch_size=batch_size, verbose=0)
    pred_rebuilt = runner.predict(rebuilt, batch_size=batch_size, verbose=0)
    pred_exact, pred_rebuilt = pred_exact.argmax(-1), pred_rebuilt.argmax(-1)
    return {
        "images": int(len(labels)),
        "top1_exact": float(np.mean(pred_exact == labels)),
        "top1_rebuilt": float(np.mean(pred_rebuilt == labels)),
        "agreement": float(np.mean(pred_exact == pred_rebuilt)),
    }
