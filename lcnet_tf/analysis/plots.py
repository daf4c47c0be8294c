"""The figures of the results page (PNG files, drawn with matplotlib)."""

import os

import numpy as np

# One colour per kind of row, the same in every figure.
KIND_COLORS = {
    "static": "black",
    "lc": "tab:red",
    "aig": "tab:blue",
    "l": "tab:orange",
    "c": "tab:green",
    "ablation": "tab:purple",
}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure, path):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    _pyplot().close(figure)
    return path


def plot_pareto(rows, path, sweep=None, sweep_label="threshold sweep"):
    """Top-1 against mean FLOPs, one marker per row.

    Args:
        rows: list of dicts with `name`, `kind` (a key of `KIND_COLORS`),
            `top1` (fraction) and `flops_mean` (multiply-accumulates).
        path: str. PNG file to write.
        sweep: optional list of `{"tau", "top1", "flops_mean"}` points of
            one model, drawn as a line.
        sweep_label: str. Legend entry of the sweep.

    Returns:
        `path`.

    Example:

    ```python
    plot_pareto([{"name": "static", "kind": "static", "top1": 0.9,
                  "flops_mean": 4.1e7}], "pareto.png")
    ```
    """
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(7, 4.5))
    seen = set()
    for row in rows:
        kind = row["kind"]
        axes.scatter(
            row["flops_mean"] / 1e6,
            100 * row["top1"],
            color=KIND_COLORS.get(kind, "gray"),
            label=None if kind in seen else kind,
            zorder=3,
        )
        seen.add(kind)
        axes.annotate(
            row["name"],
            (row["flops_mean"] / 1e6, 100 * row["top1"]),
            fontsize=6,
            xytext=(3, 3),
            textcoords="offset points",
        )
    if sweep:
        points = sorted(sweep, key=lambda p: p["flops_mean"])
        axes.plot(
            [p["flops_mean"] / 1e6 for p in points],
            [100 * p["top1"] for p in points],
            "--",
            color="gray",
            marker=".",
            label=sweep_label,
        )
    axes.set_xlabel("mean FLOPs per image (millions of MACs)")
    axes.set_ylabel("top-1 accuracy (%), 10,000 test images")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    return _save(figure, path)


def plot_keep_by_class(keep, labels, block_names, class_names, path, title):
    """Heatmap of each gated block's keep rate for each class.

    Args:
        keep: float array `(n, blocks)`: the fraction of each block's body
            that ran per image.
        labels: int array `(n,)`.
        block_names: list of str.
        class_names: list of str.
        path: str. PNG file to write.
        title: str.

    Returns:
        `path`.
    """
    plt = _pyplot()
    table = np.stack(
        [keep[labels == c].mean(axis=0) for c in range(len(class_names))], 1
    )
    figure, axes = plt.subplots(figsize=(8, 0.4 * len(block_names) + 1.5))
    image = axes.imshow(table, vmin=0, vmax=1, cmap="viridis", aspect="auto")
    axes.set_xticks(range(len(class_names)), class_names, rotation=45)
    axes.set_yticks(range(len(block_names)), block_names, fontsize=8)
    for (i, j), value in np.ndenumerate(table):
        axes.text(
            j,
            i,
            f"{value:.2f}",
            ha="center",
            va="center",
            fontsize=6,
            color="white" if value < 0.6 else "black",
        )
    figure.colorbar(image, ax=axes, label="keep rate")
    axes.set_title(title, fontsize=10)
    return _save(figure, path)


def plot_flops_histogram(flops_by_model, static_flops, path):
    """Histograms of per-image FLOPs, one per model, against the static.

    Args:
        flops_by_model: dict name -> int array of per-image FLOPs.
        static_flops: int. FLOPs of the static network (drawn as a line).
        path: str. PNG file to write.

    Returns:
        `path`.
    """
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(7, 4))
    bins = np.linspace(0, 1.05 * static_flops / 1e6, 60)
    for name, flops in flops_by_model.items():
        axes.hist(np.asarray(flops) / 1e6, bins=bins, alpha=0.5, label=name)
    axes.axvline(static_flops / 1e6, color="black", ls="--", label="static")
    axes.set_xlabel("FLOPs per image (millions of MACs)")
    axes.set_ylabel("test images")
    axes.legend(fontsize=8)
    return _save(figure, path)


def plot_easy_and_hard(images, flops, labels, predictions, class_names, path):
    """The test images a model spent the fewest and the most FLOPs on.

    Args:
        images: uint8 array `(k, 32, 32, 3)`: the `k // 2` cheapest then
            the `k // 2` most expensive images.
        flops: int array `(k,)`, their FLOPs.
        labels: int array `(k,)`.
        predictions: int array `(k,)`.
        class_names: list of str.
        path: str. PNG file to write.

    Returns:
        `path`.
    """
    plt = _pyplot()
    per_row = len(images) // 2
    figure, grid = plt.subplots(2, per_row, figsize=(1.4 * per_row, 3.6))
    for index, axes in enumerate(grid.reshape(-1)):
        axes.imshow(images[index])
        axes.set_xticks([])
        axes.set_yticks([])
        mark = "" if labels[index] == predictions[index] else " (x)"
        axes.set_title(
            f"{class_names[labels[index]]}{mark}\n{flops[index] / 1e6:.1f}M",
            fontsize=7,
        )
    grid[0, 0].set_ylabel("fewest FLOPs", fontsize=8)
    grid[1, 0].set_ylabel("most FLOPs", fontsize=8)
    return _save(figure, path)
