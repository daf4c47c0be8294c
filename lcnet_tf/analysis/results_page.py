"""The CIFAR-10 results page: tables that regenerate, prose that stays.

The page keeps hand-written text between generated sections marked
`<!-- begin:NAME -->` ... `<!-- end:NAME -->`; `update_page` replaces only
what is between the markers.
"""

import os
import re

# Published figures of other works, quoted for orientation only: they
# come from far longer training on the original CIFAR-10 pixels.
ANCHORS = (
    (
        "BlockDrop ResNet-110 (Wu et al. 2018)",
        "93.6%",
        "1.81e8 FLOPs (ResNet-110: 2.53e8)",
    ),
    (
        "DynConv ResNet-32 (Verelst & Tuytelaars 2020)",
        "93.58%",
        "55.4 MMAC (ResNet-32: 69 MMAC)",
    ),
    (
        "LC-Net (Xia et al. 2021), paper's claim",
        "higher accuracy than static ResNets and other dynamic methods",
        "up to 11.9x fewer FLOPs on CIFAR-10",
    ),
)

KIND_LABELS = {
    "static": "static ResNet",
    "lc": "LC-Net (ours)",
    "aig": "ConvNet-AIG-style baseline",
    "l": "L-Net only",
    "c": "C-Net only",
    "ablation": "LC-Net, other scaling",
    "distilled": "LC-Net, distilled from static",
    "frozen": "LC-Net routing frozen (static pruned)",
}


def row_kind(config):
    """The kind of a row from its `TrainConfig` dict."""
    gating = config["gating"]
    if gating == "none":
        return "static"
    if config.get("freeze_routing_from"):
        return "frozen"
    if gating == "lc" and config.get("scale", "learned") != "learned":
        return "ablation"
    if gating == "lc" and config.get("distill_from"):
        return "distilled"
    return gating


def kind_label(config):
    """The table's words for a row's kind, nested channel selection named.

    Args:
        config: dict. A row's `TrainConfig`.

    Returns:
        str, e.g. `"C-Net only, nested channels"`.
    """
    label = KIND_LABELS[row_kind(config)]
    if config.get("channel_selection") == "nested":
        groups = _unusual_groups(config)
        label += ", nested channels" + (
            f" (groups of {groups})" if groups else ""
        )
    return label


def _unusual_groups(config):
    """A nested row's channels per group where not the table's 8, or 0."""
    groups = config.get("channel_groups", 8)
    return 0 if groups == 8 else groups


def row_label(name, config):
    """A short label of a row for plots: its target, scale or name.

    Args:
        name: str. The row's name.
        config: dict. Its `TrainConfig`.

    Returns:
        str, e.g. `"0.3"` for a gated row, `"0.5, scale gate"` for a
        scaling ablation, `"ResNet-8"` or `"ResNet-20, ft"` (fine-tuned)
        for a static row.
    """
    kind = row_kind(config)
    if kind == "static":
        label = f"ResNet-{config['depth']}"
        return label + (", ft" if config.get("init_from") else "")
    label = f"{config['budget_target']:g}"
    if kind == "ablation":
        label += f", scale {config['scale']}"
    if kind == "distilled":
        label += ", distilled"
    if config.get("channel_selection") == "nested":
        label += ", nested" + str(_unusual_groups(config) or "")
    return label


def _pct(value):
    return f"{100 * value:.2f}%"


def results_table(rows, static_row):
    """The main table as Markdown.

    Args:
        rows: list of dicts, one per trained row: a row's `result.json`
            content plus optional `latency` (from `latency_vs_static`) and
            `command`.
        static_row: dict. The static row fine-tuned for the same budget
            (`resnet20_static_ft`), the reference of the deltas.

    Returns:
        str.
    """
    lines = [
        "| row | kind | scale | target | top-1 | vs static | mean FLOPs "
        "| per-image range | FLOPs reduction | gate overhead "
        "| TFLite latency vs static |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        config = row["config"]
        kind = row_kind(config)
        target = "-" if kind == "static" else f"{config['budget_target']:.2f}"
        latency = row.get("latency")
        latency_text = "-"
        if latency:
            latency_text = (
                f"{latency['latency_ratio']:.3f} "
                f"({latency['model_ms']:.3f} / "
                f"{latency['static_ms']:.3f} ms)"
            )
        # ConvNet-AIG gates never rescale, whatever the config says.
        scale = {"static": "-", "aig": "none"}.get(
            kind, config.get("scale", "learned")
        )
        delta = 100 * (row["top1"] - static_row["top1"])
        lines.append(
            f"| `{row['row']}` | {kind_label(config)} "
            f"| {scale} "
            f"| {target} | {_pct(row['top1'])} | {delta:+.2f} "
            f"| {row['flops_mean'] / 1e6:.2f}M "
            f"| {row['flops_min'] / 1e6:.1f}-{row['flops_max'] / 1e6:.1f}M "
            # Against the reference network, so a smaller static ResNet
            # shows its own reduction.
            f"| {static_row['static_flops'] / row['flops_mean']:.2f}x "
            f"| {_pct(row['gate_overhead'])} | {latency_text} |"
        )
    return "\n".join(lines)


def dynamism_table(rows, sweeps=None):
    """How per-image each gated row's routing is, as Markdown.

    Args:
        rows: list of row dicts whose evaluation holds `routing` (see
            `lcnet_tf.training.routing_stats`) and, optionally,
            `train_inference_agreement`.
        sweeps: dict from row name to its threshold sweep, or None.

    Returns:
        str.
    """
    lines = [
        "| row | block routings | routings with channels | top routing "
        "| FLOPs p10 / p50 / p90 | p90/p10 | conditional gates "
        "| train/infer agreement | sweep points in ratio 0.25-0.8 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        routing = row.get("routing")
        if not routing:
            continue
        agreement = row.get("train_inference_agreement")
        sweep = (sweeps or {}).get(row["row"])
        points = str(_points_between(sweep, 0.25, 0.8)) if sweep else "-"
        lines.append(
            f"| `{row['row']}` | {routing['distinct_block_routings']} "
            f"| {routing['distinct_routings']} "
            f"| {_pct(routing['top_routing_share'])} "
            f"| {routing['flops_p10'] / 1e6:.1f} / "
            f"{routing['flops_p50'] / 1e6:.1f} / "
            f"{routing['flops_p90'] / 1e6:.1f}M "
            f"| {routing['flops_p90_over_p10']:.2f} "
            f"| {_pct(routing['conditional_gate_share'])} "
            f"| {_pct(agreement['agreement']) if agreement else '-'} "
            f"| {points} |"
        )
    return "\n".join(lines)


def _points_between(points, low, high):
    """How many distinct FLOPs ratios in [low, high] the points reach."""
    return len(
        {
            round(p["flops_ratio"], 3)
            for p in points
            if low <= p["flops_ratio"] <= high
        }
    )


def operating_points_table(knobs, low=0.25, high=0.8):
    """Each row's threshold knob, raw and as operating points, as Markdown.

    Args:
        knobs: dict from row name to `operating_points`' result.
        low, high: the FLOPs ratios between which points are counted.

    Returns:
        str.
    """
    lines = [
        f"| row | sweep points in {low}-{high} | sweep monotone "
        f"| operating points in {low}-{high} | monotone "
        f"| operating points (tau: top-1 at FLOPs ratio) |",
        "|---|---|---|---|---|---|",
    ]

    for name, knob in knobs.items():
        points = "; ".join(
            f"{p['tau']:g}: {_pct(p['top1'])} at {p['flops_ratio']:.3f}"
            for p in knob["points"]
        )
        swept = _points_between(knob["evaluation_sweep"], low, high)
        chosen = _points_between(knob["points"], low, high)
        lines.append(
            f"| `{name}` | {swept} "
            f"| {'yes' if knob['sweep_monotone'] else 'no'} "
            f"| {chosen} "
            f"| {'yes' if knob['monotone'] else 'no'} | {points} |"
        )
    return "\n".join(lines)


def exact_prefix_table(rows):
    """Top-1 on the 1,017 exact-pixel test images vs their rebuilt twins."""
    lines = [
        "| row | official pixels | rebuilt pixels | gap | same prediction |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        report = row.get("exact_prefix")
        if not report:
            continue
        gap = 100 * (report["top1_exact"] - report["top1_rebuilt"])
        lines.append(
            f"| `{row['row']}` | {_pct(report['top1_exact'])} "
            f"| {_pct(report['top1_rebuilt'])} | {gap:+.2f} "
            f"| {_pct(report['agreement'])} |"
        )
    return "\n".join(lines)


def seeds_table(rows):
    """Rows trained again with other seeds (`<row>_s<seed>`), beside the
    original: top-1 per seed, mean and spread.

    Returns:
        Markdown, or "" when no row has a seed copy.
    """
    by_name = {row["row"]: row for row in rows}
    copies = {}
    for row in rows:
        match = re.fullmatch(r"(.+)_s(\d+)", row["row"])
        if match and match.group(1) in by_name:
            copies.setdefault(match.group(1), []).append(row)
    if not copies:
        return ""
    lines = [
        "| row | seeds | top-1 per seed | mean top-1 | spread (max - min) "
        "| mean FLOPs |",
        "|---|---|---|---|---|---|",
    ]
    for name, extra in copies.items():
        runs = sorted(
            [by_name[name]] + extra, key=lambda r: r["config"]["seed"]
        )
        top1 = [r["top1"] for r in runs]
        lines.append(
            f"| `{name}` | {', '.join(str(r['config']['seed']) for r in runs)}"
            f" | {', '.join(_pct(t) for t in top1)} "
            f"| {_pct(sum(top1) / len(top1))} "
            f"| {100 * (max(top1) - min(top1)):.2f} "
            f"| {sum(r['flops_mean'] for r in runs) / len(runs) / 1e6:.1f}M |"
        )
    return "\n".join(lines)


def sweep_table(points, row_name):
    """A threshold sweep as Markdown."""
    lines = [
        f"| tau (`{row_name}`) | top-1 | FLOPs ratio | FLOPs reduction |",
        "|---|---|---|---|",
    ]
    for point in points:
        lines.append(
            f"| {point['tau']:.2f} | {_pct(point['top1'])} "
            f"| {point['flops_ratio']:.3f} "
            f"| {1 / point['flops_ratio']:.2f}x |"
        )
    return "\n".join(lines)


def anchors_table():
    """Published figures of other works, marked as theirs."""
    lines = [
        "| published (theirs, not reproduced here) | top-1 | cost |",
        "|---|---|---|",
    ]
    for name, top1, cost in ANCHORS:
        lines.append(f"| {name} | {top1} | {cost} |")
    return "\n".join(lines)


def update_page(path, sections, title="Results"):
    """Replaces the generated sections of a Markdown page.

    Sections missing from the page are appended (with their markers), so
    a first run writes a complete page that can then be edited around
    the markers.

    Args:
        path: str. The Markdown file (created if missing).
        sections: dict name -> Markdown text.
        title: str. Heading of a new page.

    Returns:
        The page text written.
    """
    text = f"# {title}\n"
    if os.path.exists(path):
        with open(path) as f:
            text = f.read()
    for name, body in sections.items():
        begin, end = f"<!-- begin:{name} -->", f"<!-- end:{name} -->"
        block = f"{begin}\n{body.strip()}\n{end}"
        pattern = re.compile(
            re.escape(begin) + r".*?" + re.escape(end), re.DOTALL
        )
        if pattern.search(text):
            text = pattern.sub(lambda _, new=block: new, text)
        else:
            text = text.rstrip("\n") + f"\n\n{block}\n"
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path + ".partial", "w") as f:
        f.write(text)
    os.replace(path + ".partial", path)
    return text
