"""Batch-1 TFLite latency of a trained row against the static network."""

import os
import tempfile

import numpy as np


def latency_vs_static(
    model, static_model, images, num_threads=1, calibration_images=None
):
    """Times a gated model's dynamic TFLite form against a static one.

    Both are exported (`form="dynamic"`: skipped blocks and channels are
    not computed; a model whose every decision is constant, a frozen
    routing, as the static pruned network it is, `prune=True`; with
    `calibration_images`, channel gates run at the widths those images
    often need, free ones as a prefix of reordered channels,
    `channel_chunks="prefix"`) and run with LiteRT
    on the CPU, taking turns over the same images (`measure_interleaved`),
    so the ratio comes from one run on one machine.

    Args:
        model: a trained `keras.Model` built by lcnet_tf (gated or not).
        static_model: the static `keras.Model` to compare against, or the
            path of its `.tflite` export (to convert it once for many
            rows).
        images: float array `(n, H, W, C)`, normalised like the training
            data.
        num_threads: int. LiteRT CPU threads.
        calibration_images: None, or float array `(n, H, W, C)` of
            training images that plan the widths of channel gates and
            order a free gate's channels (`export.channel_order`).

    Returns:
        dict: `images`, `threads`, `form` (`"dynamic"`,
        `"dynamic_prefix"`, channel gates run at planned widths, or
        `"pruned"`),
        `model_ms` and `static_ms` (mean ms per
        image), `latency_ratio` (model / static, below 1 is faster) and
        `speedup` (static / model).

    Example:

    ```python
    report = latency_vs_static(lc_model, static_model, test_images[:500])
    ```
    """
    from lcnet_tf.export import TFLiteModel
    from lcnet_tf.export import fold_model
    from lcnet_tf.export import to_tflite
    from lcnet_tf.export.channel_order import has_channel_gates
    from lcnet_tf.export.latency import measure_interleaved
    from lcnet_tf.export.pruning import has_constant_decisions

    images = np.asarray(images, np.float32)
    if images.ndim != 4 or not len(images):
        raise ValueError(
            f"`images` must be a non-empty (n, H, W, C) array. Received "
            f"shape {images.shape}."
        )
    # A path is timed as the file it is.
    folded = None
    if not isinstance(model, (str, os.PathLike)):
        folded = fold_model(model)
    pruned = folded is not None and has_constant_decisions(folded)
    prefix = (
        folded is not None
        and not pruned
        and calibration_images is not None
        and has_channel_gates(folded)
    )
    with tempfile.TemporaryDirectory() as directory:
        paths = {}
        for name, network in (("model", model), ("static", static_model)):
            if isinstance(network, (str, os.PathLike)):
                paths[name] = os.fspath(network)
                continue
            paths[name] = os.path.join(directory, f"{name}.tflite")
            prefix_here = prefix and name == "model"
            to_tflite(
                network,
                paths[name],
                form="dynamic",
                prune=pruned and name == "model",
                channel_chunks="prefix" if prefix_here else None,
                representative_data=(
                    calibration_images if prefix_here else None
                ),
            )
        runners = {
            name: TFLiteModel(path, num_threads=num_threads)
            for name, path in paths.items()
        }
        stats, _ = measure_interleaved(
            runners, images, warmup=min(20, len(images)), rounds=10
        )
    model_ms = stats["model"]["mean_ms"]
    static_ms = stats["static"]["mean_ms"]
    return {
        "images": int(len(images)),
        "threads": int(num_threads),
        "form": (
            "pruned" if pruned else "dynamic_prefix" if prefix else "dynamic"
        ),
        "model_ms": model_ms,
        "static_ms": static_ms,
        "latency_ratio": model_ms / static_ms,
        "speedup": static_ms / model_ms,
    }
