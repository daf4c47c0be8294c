"""Traces of the staged runner, for other runners to replay."""

import base64
import json

import numpy as np

from lcnet_tf.export.staged_runner import StagedRunner

TRACE_FORMAT = "lcnet-tf-staged-trace"
TRACE_VERSION = 1
# Inputs and outputs up to this many floats are stored whole (gate
# outputs, scales, logits); larger ones (feature maps) by shape only.
_WHOLE = 1024


def encode_floats(values):
    """Float array -> base64 of its little-endian float32 bytes."""
    data = np.ascontiguousarray(values, dtype="<f4").tobytes()
    return base64.b64encode(data).decode("ascii")


def decode_floats(text):
    """The inverse of `encode_floats` (flat float32 array)."""
    return np.frombuffer(base64.b64decode(text), dtype="<f4")


def _tensor(value):
    value = np.asarray(value, np.float32)
    entry = {"shape": list(value.shape)}
    if value.size <= _WHOLE:
        entry["data"] = encode_floats(value)
    return entry


def record_staged_trace(manifest_path, images, labels=None, num_threads=1):
    """Runs a staged export on images and records every signature call.

    The trace lets a runner written in another language (the Kotlin one
    in `tflite/android`) check that it follows the same protocol: for
    each image, the signatures called in order with their inputs and
    outputs (whole when small, feature maps by shape), and the runner's
    decisions, FLOPs and logits. Run on the CPU, so it is reproducible.

    Args:
        manifest_path: str. The staged manifest.
        images: float array `(n, H, W, C)`, normalised.
        labels: int array `(n,)` or None. Stored beside each image.
        num_threads: int. CPU threads.

    Returns:
        A JSON-serialisable dict: `format`, `version`, `manifest` (the
        manifest as read) and `images`, one entry per image with
        `image` (base64 float32), `label`, `calls`, `decisions`, `flops`
        and `logits`.

    Example:
    ```python
    trace = record_staged_trace("lc_staged.json", x_test[:16], y_test[:16])
    ```
    """
    calls = []

    def on_call(signature, inputs, outputs):
        calls.append(
            {
                "signature": signature,
                "inputs": {k: _tensor(v) for k, v in inputs.items()},
                "outputs": {k: _tensor(v) for k, v in outputs.items()},
            }
        )

    runner = StagedRunner(
        manifest_path,
        accelerator="cpu",
        num_threads=num_threads,
        on_call=on_call,
    )
    entries = []
    for index, image in enumerate(np.asarray(images, np.float32)):
        calls.clear()
        outputs = runner(image[None])
        decisions = outputs.get("decisions")
        entries.append(
            {
                "image": encode_floats(image),
                "label": None if labels is None else int(labels[index]),
                "calls": list(calls),
                "decisions": (
                    [] if decisions is None else decisions[0].tolist()
                ),
                "flops": int(outputs["flops"][0]),
                "logits": encode_floats(outputs["logits"][0]),
            }
        )
    return {
        "format": TRACE_FORMAT,
        "version": TRACE_VERSION,
        "manifest": runner.manifest,
        "images": entries,
    }


def write_staged_trace(path, trace):
    """Writes a trace as compact JSON."""
    with open(path, "w") as f:
        json.dump(trace, f, separators=(",", ":"))
