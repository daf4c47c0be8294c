"""Loading saved models with errors that say what is wrong."""

import hashlib
import os
import zipfile

import keras


def file_sha256(path):
    """The SHA-256 hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_model(path, compile=True):
    """Loads a `.keras` model saved from lcnet_tf.

    Args:
        path: str or path-like. A `.keras` file.
        compile: bool. Whether to restore the training configuration.

    Returns:
        The `keras.Model`.

    Raises:
        FileNotFoundError: if there is no file at `path`.
        ValueError: if the file is not a `.keras` archive or is corrupt
            (for example truncated by a killed process).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No model checkpoint at '{path}'.")
    if os.path.isdir(path) or not path.endswith(".keras"):
        raise ValueError(
            f"'{path}' is not a `.keras` model file (models are saved "
            f"with `model.save('name.keras')`)."
        )
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"Model checkpoint '{path}' is corrupt: not a valid `.keras` "
            f"archive (truncated or overwritten?)."
        )
    try:
        return keras.saving.load_model(path, compile=compile)
    except Exception as error:
        raise ValueError(
            f"Model checkpoint '{path}' could not be loaded; it is corrupt "
            f"or was not saved by lcnet_tf: {error}"
        ) from error
