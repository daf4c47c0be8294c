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
    "distilled": "tab:brown",
    "frozen": "tab:gray",
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


# Marker and label offset per kind: rows of different kinds often land
# on the same point (L-Net alone and LC-Net at one target), so each kind
# gets its own marker and labels on its own side.
KIND_MARKERS = {
    "static": ("s", (-6, -12)),
    "lc": ("o", (-6, 6)),
    "aig": ("^", (5, -9)),
    "l": ("D", (5, -9)),
    "c": ("v", (5, 4)),
    "ablation": ("P", (5, 4)),
    "distilled": ("*", (5, 4)),
}


def plot_pareto(rows, path, sweep=None, sweep_label="threshold sweep"):
    """Top-1 against mean FLOPs: the rows, and one model's sweep.

    Rows of one kind (e.g. every LC-Net target) are joined by a line in
    FLOPs order, so each method reads as a trade-off curve; each point is
    labelled with its short `label`. The threshold sweep, whose extreme
    thresholds fall far outside the rows' range, gets its own panel.

    Args:
        rows: list of dicts with `name`, `kind` (a key of `KIND_COLORS`),
            `top1` (fraction), `flops_mean` (multiply-accumulates) and
            optionally `label` (default: `name`).
        path: str. PNG file to write.
        sweep: optional list of `{"tau", "top1", "flops_mean"}` points of
            one model.
        sweep_label: str. Title of the sweep panel.

    Returns:
        `path`.

    Example:

    ```python
    plot_pareto([{"name": "static", "kind": "static", "top1": 0.9,
                  "flops_mean": 4.1e7}], "pareto.png")
    ```
    """
    plt = _pyplot()
    panels = 2 if sweep else 1
    figure, axes = plt.subplots(1, panels, figsize=(6 * panels, 4.5))
    axes = np.atleast_1d(axes)
    by_kind = {}
    for row in rows:
        by_kind.setdefault(row["kind"], []).append(row)
    for kind, members in by_kind.items():
        members = sorted(members, key=lambda r: (r["flops_mean"], r["top1"]))
        color = KIND_COLORS.get(kind, "gray")
        marker, offset = KIND_MARKERS.get(kind, ("o", (4, 4)))
        x = [r["flops_mean"] / 1e6 for r in members]
        y = [100 * r["top1"] for r in members]
        joined = kind not in ("static", "ablation") and len(members) > 1
        axes[0].plot(
            x,
            y,
            linestyle="-" if joined else "none",
            marker=marker,
            markersize=7 if kind == "l" else 6,
            markerfacecolor="none" if kind in ("l", "c") else color,
            color=color,
            label=kind,
            zorder=3,
        )
        if kind == "static":
            # The reference a gated row must beat: static ResNets of
            # several depths, the best of each depth joined.
            best = {}
            for xi, yi in zip(x, y):
                best[round(xi, 1)] = max(best.get(round(xi, 1), 0), yi)
            if len(best) > 1:
                reference = sorted(best.items())
                axes[0].plot(
                    [p[0] for p in reference],
                    [p[1] for p in reference],
                    linestyle="--",
                    color=color,
                    zorder=2,
                )
        # Labels of one kind's points at about the same FLOPs (the static
        # rows) are stacked instead of printed over each other.
        stacked = {}
        for row, xi, yi in zip(members, x, y):
            level = stacked.setdefault(round(xi), 0)
            stacked[round(xi)] += 1
            axes[0].annotate(
                row.get("label", row["name"]),
                (xi, yi),
                fontsize=7,
                color=color,
                xytext=(offset[0], offset[1] + 9 * level),
                textcoords="offset points",
                ha="right" if offset[0] < 0 else "left",
            )
    axes[0].set_xlabel("mean FLOPs per image (millions of MACs)")
    axes[0].set_ylabel("top-1 accuracy (%), 10,000 test images")
    axes[0].grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="lower right")
    if sweep:
        # Thresholds that take the same decisions give the same point:
        # one label `low-high` for each such run of thresholds.
        groups = {}
        for point in sorted(sweep, key=lambda p: p["tau"]):
            key = (round(point["flops_mean"]), round(point["top1"], 6))
            groups.setdefault(key, []).append(point["tau"])
        points = sorted(groups.items())
        x = [flops / 1e6 for (flops, _), _ in points]
        y = [100 * top1 for (_, top1), _ in points]
        axes[1].plot(x, y, "--", color="gray", marker="o", markersize=4)
        for i, ((_, taus), xi, yi) in enumerate(zip(points, x, y)):
            label = f"{taus[0]:g}"
            if len(taus) > 1:
                label += f"-{taus[-1]:g}"
            axes[1].annotate(
                label,
                (xi, yi),
                fontsize=7,
                # Alternate sides: neighbouring thresholds often differ by
                # a fraction of a point.
                xytext=(4, -10 if i % 2 else 6),
                textcoords="offset points",
            )
        axes[1].set_title(sweep_label + " (labels: tau)", fontsize=9)
        axes[1].set_xlabel("mean FLOPs per image (millions of MACs)")
        axes[1].grid(alpha=0.3)
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
    """Histograms of per-image FLOPs, one panel per model.

    Panels share the FLOPs axis and count images on a log scale: a gated
    network often runs one sub-network for most images, and the few
    images it treats otherwise would vanish on a linear scale (as would
    a model hidden behind another in one shared panel).

    Args:
        flops_by_model: dict name -> int array of per-image FLOPs.
        static_flops: int. FLOPs of the static network (drawn as a line).
        path: str. PNG file to write.

    Returns:
        `path`.
    """
    plt = _pyplot()
    count = max(1, len(flops_by_model))
    figure, axes = plt.subplots(
        count, 1, figsize=(7, 0.6 + 1.5 * count), sharex=True, squeeze=False
    )
    bins = np.linspace(0, 1.05 * static_flops / 1e6, 85)
    for axis, (name, flops) in zip(axes[:, 0], flops_by_model.items()):
        millions = np.asarray(flops) / 1e6
        axis.hist(millions, bins=bins, color="tab:blue", log=True)
        axis.axvline(static_flops / 1e6, color="black", ls="--")
        axis.set_title(
            f"{name}: mean {millions.mean():.1f}M, "
            f"{millions.min():.1f}-{millions.max():.1f}M",
            fontsize=8,
            loc="left",
        )
        # From below one image, so a bin of a single image shows.
        axis.set_ylim(0.7, 3 * max(1, len(millions)))
        axis.set_ylabel("images", fontsize=8)
    axes[-1, 0].set_xlabel(
        "FLOPs per image (millions of MACs); dashed: static network"
    )
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
