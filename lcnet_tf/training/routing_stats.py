"""How dynamic a gated model's routing is, measured over a test set."""

import numpy as np

from lcnet_tf.flops import gated_blocks

# A gate whose keep rate lies in this range decides per image; outside it
# it is (almost) always on or always off: a static pruning decision.
CONDITIONAL_RANGE = (0.05, 0.95)


def routing_codes(model, decisions):
    """Per-image routing arrays from `gate_decisions`' output.

    Args:
        model: the gated model the decisions come from.
        decisions: dict from block name to `{"run", "channels"}` arrays,
            as `gate_decisions` returns (or concatenated over batches).

    Returns:
        `(blocks int8 (n, block_gates), channels int8 (n, channel_gates))`:
        the run decision of every block with an L-Net gate, and every
        channel-group decision (0 inside skipped blocks).
    """
    runs, channels = [], []
    for name, part in decisions.items():
        if model.get_layer(name).block_gate is not None:
            runs.append(part["run"][:, None])
        channels.append(part["channels"])
    n = len(next(iter(decisions.values()))["run"])
    blocks = np.concatenate(runs, 1) if runs else np.zeros((n, 0), np.int8)
    return blocks.astype(np.int8), np.concatenate(channels, 1).astype(np.int8)


def _distinct(rows):
    if rows.shape[1] == 0:
        return 1
    return int(len(np.unique(rows, axis=0)))


def routing_stats(model, results):
    """Dynamism of a gated model's decisions over a set of images.

    A gated network is only worth its gates if images take different
    paths: this measures how many, how much their cost varies, and how
    many gates decide per image rather than being fixed on or off.

    Args:
        model: the gated model the results come from.
        results: `per_image_results`' dict (with `flops`, `block_runs`
            and `channel_decisions`).

    Returns:
        A dict: `distinct_block_routings` (distinct patterns of block
        decisions), `distinct_routings` (block and channel-group
        decisions together), `top_routing_share` (share of images on the
        most frequent block routing) and `top_routing` (that routing),
        `flops_p10` / `flops_p50` / `flops_p90` and `flops_p90_over_p10`,
        `conditional_gate_share` (share of gates whose keep rate lies in
        `CONDITIONAL_RANGE`; a channel gate's rate counts images whose
        block runs) and `num_gates`.

    Example:

    ```python
    stats = routing_stats(model, per_image_results(model, test_ds))
    print(stats["distinct_block_routings"], stats["flops_p90_over_p10"])
    ```
    """
    blocks = results["block_runs"]
    channels = results["channel_decisions"]
    flops = results["flops"].astype(np.float64)
    p10, p50, p90 = np.percentile(flops, [10, 50, 90])
    patterns, counts = (
        np.unique(blocks, axis=0, return_counts=True)
        if blocks.shape[1]
        else (np.zeros((1, 0), np.int8), np.array([len(flops)]))
    )
    rates = list(blocks.mean(axis=0)) if blocks.shape[1] else []
    rates += _channel_rates(model, results)
    low, high = CONDITIONAL_RANGE
    conditional = [low <= rate <= high for rate in rates]
    return {
        "distinct_block_routings": _distinct(blocks),
        "distinct_routings": _distinct(
            np.concatenate([blocks, channels], axis=1)
        ),
        "top_routing_share": float(counts.max() / len(flops)),
        "top_routing": patterns[int(np.argmax(counts))].tolist(),
        "flops_p10": float(p10),
        "flops_p50": float(p50),
        "flops_p90": float(p90),
        "flops_p90_over_p10": float(p90 / p10),
        "conditional_gate_share": (
            float(np.mean(conditional)) if conditional else 0.0
        ),
        "num_gates": len(rates),
    }


def _channel_rates(model, results):
    """Keep rate of each channel-group gate over images whose block ran."""
    rates, column = [], 0
    runs = results["block_runs"]
    run_column = 0
    for block in gated_blocks(model):
        ran = np.ones(len(runs), bool)
        if block.block_gate is not None:
            ran = runs[:, run_column] == 1
            run_column += 1
        if block.channel_gate is None:
            continue
        width = block.channel_gate.units
        decisions = results["channel_decisions"][:, column : column + width]
        column += width
        if ran.any():
            rates += list(decisions[ran].mean(axis=0))
    return rates
