"""Published CIFAR-10 models: `pretrained(name)` and their manifest."""

import json
import os

from lcnet_tf.models.saving import file_sha256

MANIFEST = "manifest.json"
PRETRAINED_DIR_ENV = "LCNET_PRETRAINED_DIR"


def pretrained_dir():
    """The folder of the published models.

    `$LCNET_PRETRAINED_DIR` if set, else `pretrained/` of the checkout
    the package runs from.
    """
    override = os.environ.get(PRETRAINED_DIR_ENV)
    if override:
        return override
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.join(os.path.dirname(package), "pretrained")


def pretrained_manifest(directory=None):
    """The manifest of the published models: name -> entry dict.

    Each entry holds `file`, `sha256`, `row` (the experiment row that
    trained it), `top1` (all 10,000 CIFAR-10 test images), `subset` and
    `top1_subset` (the first `subset` test images), `flops_ratio` and
    `command`.
    """
    directory = directory or pretrained_dir()
    path = os.path.join(directory, MANIFEST)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"No pretrained models: '{path}' is missing. Published models "
            f"ship in the `pretrained/` folder of the lcnet-tf checkout; "
            f"set ${PRETRAINED_DIR_ENV} to use another folder."
        )
    with open(path) as f:
        return json.load(f)


def pretrained(name, directory=None, compile=False):
    """Loads a published model by name, after checking its checksum.

    Args:
        name: str. A name from `pretrained_manifest()`, e.g.
            `"lc_resnet20_cifar10"`.
        directory: str or None. Folder of the models (default:
            `pretrained_dir()`).
        compile: bool. Whether to restore the training configuration.

    Returns:
        The `keras.Model` (logits out; inputs normalised like
        `lcnet_tf.data.cifar10_dataset`).

    Raises:
        ValueError: for an unknown name or a file whose checksum does not
            match the manifest.

    Example:

    ```python
    model = lcnet_tf.models.pretrained("lc_resnet20_cifar10")
    print(lcnet_tf.models.pretrained_manifest()["lc_resnet20_cifar10"])
    ```
    """
    from lcnet_tf.models.saving import load_model

    return load_model(verified_path(name, directory), compile=compile)


def verified_path(name, directory=None):
    """The file of a published model, after checking its checksum.

    Args:
        name: str. A name from `pretrained_manifest()`.
        directory: str or None. Folder of the models (default:
            `pretrained_dir()`).

    Returns:
        str: the path of the model file.

    Raises:
        ValueError: for an unknown name or a file whose checksum does not
            match the manifest.
        FileNotFoundError: for a missing manifest or model file.
    """
    directory = directory or pretrained_dir()
    manifest = pretrained_manifest(directory)
    if name not in manifest:
        raise ValueError(
            f"Unknown pretrained model {name!r}. Available: {sorted(manifest)}."
        )
    entry = manifest[name]
    path = os.path.join(directory, entry["file"])
    if not os.path.exists(path):
        raise FileNotFoundError(f"Pretrained model file '{path}' is missing.")
    if file_sha256(path) != entry["sha256"]:
        raise ValueError(
            f"Pretrained model '{path}' does not match its manifest "
            f"checksum: the file is corrupt or was replaced."
        )
    return path


def subset_figures(model, images, labels, batch_size=500):
    """Top-1 and mean exact FLOPs of a model on images (the published pair).

    One pass (`lcnet_tf.flops.batches_with_flops`), so the check of a
    shipped file runs the model once.

    Args:
        model: a model built by lcnet_tf, gated or static.
        images: float array `(n, height, width, channels)`, normalised.
        labels: int array `(n,)`.
        batch_size: int. Images per call.

    Returns:
        A dict with `top1_subset` and `flops_mean_subset` (floats).

    Example:

    ```python
    images, labels = cifar10_arrays("test", data_dir, num_examples=1000)
    figures = subset_figures(pretrained("lc_resnet20_t30_cifar10"),
                             images, labels)
    ```
    """
    import numpy as np

    from lcnet_tf.flops import batches_with_flops

    batches = [
        images[start : start + batch_size]
        for start in range(0, len(images), batch_size)
    ]
    outputs = list(batches_with_flops(model, batches))
    logits = np.concatenate([out["logits"] for out in outputs])
    flops = np.concatenate([out["flops"] for out in outputs])
    return {
        "top1_subset": float(np.mean(logits.argmax(-1) == labels)),
        "flops_mean_subset": float(flops.mean()),
    }


def publish_pretrained(
    name, model_path, result, directory, data_dir, subset, command=None
):
    """Adds a trained row's model to the published models.

    The model is saved without optimizer state; its accuracy and mean
    exact FLOPs on the first `subset` test images are measured and
    recorded, so a test can check that the shipped file reproduces them.

    Args:
        name: str. Published name.
        model_path: str. The row's `model.keras`.
        result: dict. The row's `result.json` content.
        directory: str. Folder of the published models.
        data_dir: str. CIFAR-10 binaries.
        subset: int. Test images of the recorded subset accuracy.
        command: str or None. How to train the row again (default: the
            row's `lcnet-experiments` call on the first table).

    Returns:
        The manifest entry.
    """
    from lcnet_tf.data.cifar10 import cifar10_arrays
    from lcnet_tf.models.saving import load_model

    os.makedirs(directory, exist_ok=True)
    model = load_model(model_path, compile=False)
    path = os.path.join(directory, f"{name}.keras")
    model.save(path)
    images, labels = cifar10_arrays("test", data_dir, num_examples=subset)
    # Measured on the shipped file, as a user would load it.
    shipped = load_model(path, compile=False)
    entry = {
        **subset_figures(shipped, images, labels),
        "file": os.path.basename(path),
        "sha256": file_sha256(path),
        "row": result["row"],
        "top1": result["top1"],
        "subset": int(subset),
        "flops_ratio": result["flops_ratio"],
        "flops_mean": result["flops_mean"],
        "command": command
        or (
            f"lcnet-experiments --rows={result['row']} (see results/cifar10.md)"
        ),
    }
    manifest_path = os.path.join(directory, MANIFEST)
    manifest = {}
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            manifest = json.load(f)
    manifest[name] = entry
    with open(manifest_path + ".partial", "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(manifest_path + ".partial", manifest_path)
    return entry
