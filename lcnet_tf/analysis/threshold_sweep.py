"""Accuracy against FLOPs of one trained model as its threshold moves."""

from lcnet_tf.flops import gated_blocks
from lcnet_tf.models.gate_controls import kept_thresholds
from lcnet_tf.models.gate_controls import set_threshold
from lcnet_tf.training.evaluation import per_image_results
from lcnet_tf.training.routing_stats import routing_stats

# From every gate open to nearly all closed; the results pages' sweeps.
DEFAULT_TAUS = (0.05, 0.2, 0.35, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)

_ROUTING_KEYS = (
    "distinct_block_routings",
    "top_routing_share",
    "flops_p90_over_p10",
)


def parse_taus(values, flag="--taus"):
    """Thresholds from a command line's list of strings.

    Args:
        values: list of str (an absl list flag's value).
        flag: str. The flag's name, for the error.

    Returns:
        list of float, each in [0, 1].

    Raises:
        ValueError: naming `flag`, for an empty list or a value that is
            not a number in [0, 1].

    Example:

    ```python
    parse_taus(["0.3", "0.5"])  # [0.3, 0.5]
    ```
    """
    from lcnet_tf.layers.gate_head import check_threshold

    try:
        if not values:
            raise ValueError("no thresholds given")
        return [check_threshold(value) for value in values]
    except ValueError as error:
        raise ValueError(
            f"{flag} must be numbers in [0, 1]. Received: {values} ({error})"
        ) from None


def threshold_sweep(model, dataset, taus):
    """Evaluates a gated model at several gate thresholds, no retraining.

    Every gate gets the same threshold in turn; the model's own
    thresholds are put back afterwards, even if an evaluation fails.

    Args:
        model: a gated model built by lcnet_tf.
        dataset: labelled `(images, labels)` batches (iterated once per
            threshold).
        taus: thresholds in [0, 1].

    Returns:
        A list with one dict per threshold: `tau`, `top1`, `flops_mean`
        and `flops_ratio` (mean per-image FLOPs over the static
        network's), and how dynamic the routing is there
        (`distinct_block_routings`, `top_routing_share` and
        `flops_p90_over_p10`, as `routing_stats` counts them): a
        threshold moves the routing as well as the cost.

    Example:

    ```python
    for point in threshold_sweep(model, test_ds, [0.3, 0.5, 0.7]):
        print(point["tau"], point["top1"], point["flops_ratio"])
    ```
    """
    from lcnet_tf.flops import count_flops

    blocks = gated_blocks(model)
    if not blocks:
        raise ValueError(
            f"Model '{model.name}' has no gates: a threshold sweep needs a "
            f"gated model."
        )
    taus = list(taus)
    if not taus:
        raise ValueError("`taus` is empty: give at least one threshold.")
    static = count_flops(model, gates=False)
    points = []
    with kept_thresholds(model):
        for tau in taus:
            set_threshold(model, tau)
            results = per_image_results(model, dataset)
            flops = results["flops"].mean()
            routing = routing_stats(model, results)
            points.append(
                {
                    "tau": float(tau),
                    "top1": float(
                        (results["predictions"] == results["labels"]).mean()
                    ),
                    "flops_mean": float(flops),
                    "flops_ratio": float(flops / static),
                    **{key: routing[key] for key in _ROUTING_KEYS},
                }
            )
    return points
