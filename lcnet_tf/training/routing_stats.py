"""How dynamic a gated model's routing is, measured over a test set."""

import numpy as np

from lcnet_tf.flops import gated_blocks

# A gate whose keep rate lies in this range decides per image; outside it
# it is (almost) always on or always off: a static pruning decision.
CONDITIONAL_RANGE = (0.05, 0.95)

# Beyond this many deciding block gates the 2^k routings are not
# enumerated (ResNet-20 has at most 9, ResNet-50 16).
MAX_ENUMERATED_GATES = 20


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


def _deciding_gates(block_runs):
    """The columns of `block_runs` (as floats) whose gates decide per
    image: neither always run nor always skipped."""
    runs = np.asarray(block_runs, np.float64)
    if runs.ndim != 2 or len(runs) == 0:
        raise ValueError(
            f"`block_runs` must be a non-empty (images, block_gates) "
            f"array. Received shape {runs.shape}."
        )
    rates = runs.mean(axis=0)
    return runs[:, (rates > 0) & (rates < 1)]


def independent_block_routings(block_runs):
    """Distinct block routings expected if every gate decided alone.

    Gates that each decide per image can still route few images
    differently when they decide together: two blocks that substitute
    for each other (one runs where the other is skipped) give two
    routings where two independent gates give four. This is the number
    of distinct routings `n` images would take if each block gate kept
    its measured keep rate but decided independently of the others; the
    measured number over it says how coupled the gates are.

    Args:
        block_runs: int array `(n, block_gates)` of 0/1 run decisions
            (`per_image_results`' `block_runs`).

    Returns:
        The expected count (a float), or None where more than
        `MAX_ENUMERATED_GATES` gates decide per image.

    Example:

    ```python
    runs = per_image_results(model, test_ds)["block_runs"]
    taken = len(np.unique(runs, axis=0))
    print(taken, "of", independent_block_routings(runs))
    ```
    """
    deciding = _deciding_gates(block_runs)
    rates = deciding.mean(axis=0)
    if len(rates) > MAX_ENUMERATED_GATES:
        return None
    if len(rates) == 0:
        return 1.0
    # Each routing's log-probability, built up one deciding gate at a time.
    log_q = np.zeros(1)
    for rate in rates:
        log_q = np.concatenate([log_q + np.log(rate), log_q + np.log1p(-rate)])
    # P(a routing occurs at least once) = 1 - (1 - q)^n, kept exact for
    # routings of tiny probability.
    n = len(deciding)
    return float(np.sum(-np.expm1(n * np.log1p(-np.exp(log_q)))))


def block_gate_coupling(block_runs):
    """Mean absolute correlation between two deciding block gates.

    Args:
        block_runs: int array `(n, block_gates)` of 0/1 run decisions.

    Returns:
        The mean of `|corr|` over pairs of gates whose keep rate lies
        strictly between 0 and 1 (0.0 with fewer than two such gates):
        0 for gates that decide independently, 1 for gates that always
        decide alike or always opposite.

    Example:

    ```python
    runs = per_image_results(model, test_ds)["block_runs"]
    print(f"{block_gate_coupling(runs):.2f}")
    ```
    """
    deciding = _deciding_gates(block_runs)
    k = deciding.shape[1]
    if k < 2:
        return 0.0
    corr = np.corrcoef(deciding, rowvar=False)
    return float(np.abs(corr[~np.eye(k, dtype=bool)]).mean())


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
        "independent_block_routings": independent_block_routings(blocks),
        "block_gate_coupling": block_gate_coupling(blocks),
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
