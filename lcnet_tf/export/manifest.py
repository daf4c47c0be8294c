"""The staged form's JSON manifest (format in tflite/README.md)."""

import json
import os

from lcnet_tf.models.saving import file_sha256

MANIFEST_FORMAT = "lcnet-tf-staged"
MANIFEST_VERSION = 1
_BLOCK_KEYS = ("name", "gate", "body", "skippable", "channel_gated", "flops")
# How a block with width bodies picks one (`staged_host.body_width`).
SELECTIONS = ("nested", "prefix")


def width_signature(body, width):
    """The staged signature of `body` over its first `width` channels."""
    return f"{body}_w{width}"


def staged_manifest(network, stages, quantization=None):
    """The manifest of a staged export, without its file fields.

    Args:
        network: the `FoldedNetwork` exported.
        stages: per-block stage dicts from `forms.staged_functions`.
        quantization: the quantization used, or None.

    Returns:
        dict: everything but `tflite` and `tflite_sha256`, which
        `write_manifest` adds once the model file exists.
    """
    inside = sum(int(b.keras_block.base_flops()) for b in network.blocks)
    return {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "model": network.name,
        "quantization": quantization,
        "input": {
            "signature": "stem",
            "name": "images",
            "shape": [1] + [int(d) for d in network.input_shape],
            "dtype": network.input_dtype,
        },
        "stem": "stem",
        "head": "head",
        "num_classes": int(network.head_kernel.shape[-1]),
        "flops": {
            "static": int(network.static_flops),
            "outside_blocks": int(network.static_flops) - inside,
        },
        "blocks": stages,
    }


def write_manifest(path, network, stages, tflite_path, quantization=None):
    """Writes the manifest of a staged export.

    Args:
        path: str. The `.json` file to write.
        network: the `FoldedNetwork` exported.
        stages: per-block stage dicts from `forms.staged_functions`.
        tflite_path: str. The `.tflite` file the manifest describes.
        quantization: the quantization used, or None.

    Returns:
        The manifest as a dict.
    """
    manifest = staged_manifest(network, stages, quantization)
    manifest["tflite"] = os.path.relpath(
        os.path.abspath(tflite_path), os.path.dirname(os.path.abspath(path))
    )
    manifest["tflite_sha256"] = file_sha256(tflite_path)
    with open(path, "w") as f:
        json.dump(manifest, f, indent=2)
    return manifest


def read_manifest(path, check_model=True):
    """Reads and checks a staged manifest.

    Args:
        path: str. The manifest `.json`.
        check_model: bool. Also check that the `.tflite` file it names
            exists and has the recorded SHA-256.

    Returns:
        `(manifest, tflite_path)`.

    Raises:
        FileNotFoundError: the manifest or its model is missing.
        ValueError: the manifest is corrupt, of another format, or does
            not match the model file.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No staged manifest at '{path}'.")
    try:
        with open(path) as f:
            manifest = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(
            f"Manifest '{path}' is not valid JSON: {error}"
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != (
        MANIFEST_FORMAT
    ):
        raise ValueError(
            f"'{path}' is not an lcnet-tf staged manifest (expected "
            f"format '{MANIFEST_FORMAT}')."
        )
    if manifest.get("version") != MANIFEST_VERSION:
        raise ValueError(
            f"Manifest '{path}' has version {manifest.get('version')!r}; "
            f"this runner reads version {MANIFEST_VERSION}."
        )
    missing = [
        key
        for key in ("tflite", "input", "stem", "head", "blocks", "flops")
        if key not in manifest
    ]
    for index, block in enumerate(manifest.get("blocks") or []):
        missing += [
            f"blocks[{index}].{key}" for key in _BLOCK_KEYS if key not in block
        ]
    if missing:
        raise ValueError(f"Manifest '{path}' lacks fields: {missing}")
    _check_widths(path, manifest["blocks"])
    _check_skips(path, manifest["blocks"])
    dtype = manifest["input"].get("dtype", "float32")
    if dtype not in ("float32", "uint8"):
        raise ValueError(
            f"Manifest '{path}' has input dtype {dtype!r}; runners take "
            f"'float32' or 'uint8'."
        )
    tflite_path = os.path.join(
        os.path.dirname(os.path.abspath(path)), manifest["tflite"]
    )
    if check_model:
        if not os.path.isfile(tflite_path):
            raise FileNotFoundError(
                f"Manifest '{path}' names model '{tflite_path}', which does "
                f"not exist."
            )
        if file_sha256(tflite_path) != manifest.get("tflite_sha256"):
            raise ValueError(
                f"Manifest '{path}' does not match '{tflite_path}' "
                f"(SHA-256 differs): re-export them together."
            )
    return manifest, tflite_path


def _check_skips(path, blocks):
    """A `skip` signature (the projection a skipped block that changes
    shape runs) belongs to a skippable block."""
    for block in blocks:
        skip = block.get("skip")
        if skip is None:
            continue
        if not isinstance(skip, str) or not block["skippable"]:
            raise ValueError(
                f"Manifest '{path}': block '{block['name']}' has skip "
                f"signature {skip!r}, but only a skippable block (here "
                f"skippable={block['skippable']}) names one, as a string."
            )


def _check_widths(path, blocks):
    """A block's width bodies: whole channel counts up to its channels,
    each with its FLOPs, ending at all of them; a nested block's
    (`channel_selection` `"nested"`, the default) starting at none, a
    reordered free block's (`"prefix"`) wherever its plan starts."""
    for block in blocks:
        if "widths" not in block:
            continue
        name, channels = block["name"], block.get("channels")
        selection = block.get("channel_selection", "nested")
        if selection not in SELECTIONS:
            raise ValueError(
                f"Manifest '{path}': block '{name}' has channel_selection "
                f"{selection!r}; expected one of {SELECTIONS}."
            )
        try:
            widths = sorted(int(key) for key in block["widths"])
        except (TypeError, ValueError):
            raise ValueError(
                f"Manifest '{path}': block '{name}' has widths "
                f"{list(block['widths'])}; expected channel counts."
            ) from None
        wrong = [w for w in widths if not 0 <= w <= (channels or 0)]
        nested = selection == "nested"
        if (
            wrong
            or not widths
            or widths[-1] != channels
            or (nested and widths[0] != 0)
        ):
            needs = "from 0 to" if nested else "up to"
            raise ValueError(
                f"Manifest '{path}': block '{name}' has {channels} channels "
                f"but widths {widths}; a {selection} block needs widths "
                f"{needs} its channels (not {wrong or 'missing ends'})."
            )
        by_width = block["flops"].get("body_by_width", {})
        if sorted(by_width, key=int) != [str(w) for w in widths]:
            raise ValueError(
                f"Manifest '{path}': block '{name}' has FLOPs for widths "
                f"{sorted(by_width, key=int)} but bodies of widths {widths}."
            )
