"""Builds the CIFAR-10 results page from trained experiment rows."""

import functools
import json
import os
import tempfile

import numpy as np

from lcnet_tf.analysis import plots
from lcnet_tf.analysis import results_page
from lcnet_tf.analysis.threshold_sweep import DEFAULT_TAUS


def _read_json(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def _write_json(value, path):
    with open(path + ".partial", "w") as f:
        json.dump(value, f, indent=2)
    os.replace(path + ".partial", path)


def _command(row, root, data_dir):
    return f"lcnet-experiments --root={root} --data_dir={data_dir} --rows={row}"


# A row that trains another row's model (its gates fixed, released or tuned)
# keeps that model's architecture; its own config leaves these fields at
# their defaults.
_SOURCE_FIELDS = ("fix_gates_from", "release_routing_from", "tune_gates_from")
ARCHITECTURE_FIELDS = (
    "channel_groups",
    "channel_selection",
    "gate_projection_blocks",
    "channel_min_groups",
)


def _source_architecture(root, config):
    """The architecture fields of the model a row started from, or {}.

    The source row is looked up by its folder's name under `root`, so a
    root moved since training still resolves.
    """
    for field in _SOURCE_FIELDS:
        source = config.get(field)
        if not source:
            continue
        folder = os.path.basename(os.path.dirname(source))
        source_config = _read_json(os.path.join(root, folder, "config.json"))
        if source_config is None:
            return {}
        inherited = _source_architecture(root, source_config)
        return {
            key: inherited.get(key, source_config[key])
            for key in ARCHITECTURE_FIELDS
            if key in source_config
        }
    return {}


def load_rows(root, names):
    """The `result.json` of each named row that has one, in order.

    A row that fine-tunes another row's model with its gates fixed or
    released gets that model's channel selection, channel groups and
    projection gates in its `config` (read from the source row's
    `config.json`), so the tables name its architecture and its latency
    is cached for the right export form.
    """
    rows = []
    for name in names:
        result = _read_json(os.path.join(root, name, "result.json"))
        if result is not None:
            config = result.get("config", {})
            config.update(_source_architecture(root, config))
            rows.append(result)
    return rows


def _channel_gates(row):
    """Whether a row's model has channel gates (free or nested)."""
    return row.get("config", {}).get("gating") in ("c", "lc")


def _cached(path, compute, valid=lambda value: True):
    value = _read_json(path)
    if value is None or not valid(value):
        value = compute()
        _write_json(value, path)
    return value


def _per_image(model, folder, data_dir):
    from lcnet_tf.data.cifar10 import cifar10_dataset
    from lcnet_tf.training.evaluation import per_image_results

    path = os.path.join(folder, "per_image.npz")
    if os.path.exists(path):
        with np.load(path) as saved:
            return {key: saved[key] for key in saved.files}
    results = per_image_results(
        model, cifar10_dataset("test", data_dir, batch_size=500)
    )
    results["block_names"] = np.asarray(results["block_names"])
    np.savez(path, **results)
    return results


def _operating_points(root, sweeps, model_of, data_dir, taus, images):
    """Each swept row's operating points, its calibration sweep cached."""
    from lcnet_tf.analysis.operating_points import choose_operating_points
    from lcnet_tf.analysis.threshold_sweep import threshold_sweep
    from lcnet_tf.data.cifar10 import cifar10_dataset
    from lcnet_tf.training.config import ROUTING_IMAGES

    images = ROUTING_IMAGES if images is None else int(images)
    calibration = cifar10_dataset(
        "train", data_dir, batch_size=500, training=False, num_examples=images
    )
    knobs = {}
    for name, sweep in sweeps.items():
        chosen = _cached(
            os.path.join(root, name, "calibration_sweep.json"),
            lambda name=name: {
                "images": images,
                "points": threshold_sweep(model_of(name), calibration, taus),
            },
            valid=lambda value: (
                value["images"] == images
                and [p["tau"] for p in value["points"]] == list(taus)
            ),
        )
        knobs[name] = choose_operating_points(chosen["points"], sweep)
    return knobs


def build_cifar10_results(
    root,
    row_names,
    page,
    data_dir,
    static_row,
    focus_row,
    compare_rows=(),
    latency_images=500,
    taus=DEFAULT_TAUS,
    budget_text="",
    calibration_examples=None,
):
    """Measures what the results page shows and rewrites its tables.

    Slow parts are cached in each row's folder (`latency.json`,
    `threshold_sweep.json`, `per_image.npz`), so a rerun after a new row
    finishes only measures that row.

    Args:
        root: str. The experiment root (one folder per row).
        row_names: list of str. Rows of the table, in order; rows not
            trained yet are left out.
        page: str. The Markdown page to update; figures go to a
            `figures/` folder beside it.
        data_dir: str. CIFAR-10 binaries.
        static_row: str. The static row of the same budget (reference of
            the accuracy deltas and the latency ratios).
        focus_row: str. The gated row whose threshold sweep, keep-rate
            heatmap and easy/hard images are shown.
        compare_rows: rows whose per-image FLOPs histograms are drawn
            beside the focus row's.
        latency_images: int. Test images per latency measurement (0 to
            skip latency).
        taus: thresholds of the sweep.
        budget_text: str. Markdown describing the training budget.
        calibration_examples: int or None. Training images (the first
            ones, unaugmented) that choose each gated row's operating
            points (`operating_points`); None for `ROUTING_IMAGES`.

    Returns:
        dict: `rows` (the table rows), `sweep` and `figures` (paths).
    """
    from lcnet_tf.analysis.row_latency import latency_vs_static
    from lcnet_tf.analysis.threshold_sweep import threshold_sweep
    from lcnet_tf.data.cifar10 import CLASS_NAMES
    from lcnet_tf.data.cifar10 import cifar10_arrays
    from lcnet_tf.data.cifar10 import cifar10_dataset
    from lcnet_tf.data.cifar10 import cifar10_raw
    from lcnet_tf.export import to_tflite
    from lcnet_tf.export.channel_order import calibration_images
    from lcnet_tf.models import load_model

    rows = load_rows(root, row_names)
    by_name = {row["row"]: row for row in rows}
    if static_row not in by_name:
        raise FileNotFoundError(
            f"The static row '{static_row}' has no result in {root} yet: "
            f"train it first ({_command(static_row, root, data_dir)})."
        )

    def model_of(name):
        return load_model(os.path.join(root, name, "model.keras"))

    if latency_images:
        images, _ = cifar10_arrays("test", data_dir, latency_images)
        # What plans channel gates' widths (and orders a free gate's
        # channels) for the prefix export.
        calibration = calibration_images(data_dir)
        with tempfile.TemporaryDirectory() as directory:

            @functools.cache
            def static_path():
                # Converted once, when the first uncached row needs it.
                path = os.path.join(directory, "static.tflite")
                to_tflite(model_of(static_row), path, form="dynamic")
                return path

            for row in rows:
                folder = os.path.join(root, row["row"])
                row["latency"] = _cached(
                    os.path.join(folder, "latency.json"),
                    lambda name=row["row"]: latency_vs_static(
                        model_of(name),
                        static_path(),
                        images,
                        calibration_images=calibration,
                    ),
                    # Rows timed before `form` was recorded are timed
                    # again (frozen rows are now pruned, not masked), and
                    # channel gates timed at every width (nested) or
                    # masked (free), at planned widths now.
                    valid=lambda value, row=row: (
                        value["images"] == latency_images
                        and "form" in value
                        and not (
                            value["form"] == "dynamic" and _channel_gates(row)
                        )
                    ),
                )
    for row in rows:
        row["command"] = _command(row["row"], root, data_dir)

    page_dir = os.path.dirname(os.path.abspath(page))
    figures_dir = os.path.join(page_dir, "figures")
    # Figures are named after their page: pages beside each other (one
    # per table) keep their own.
    stem = os.path.splitext(os.path.basename(page))[0]
    figures = {}
    sweep = None
    sections = {
        "budget": budget_text,
        "table": (
            f"Accuracy deltas and latency ratios are against "
            f"`{static_row}`.\n\n"
            + results_page.results_table(rows, by_name[static_row])
        ),
        "commands": "\n".join(
            ["```bash"] + [row["command"] for row in rows] + ["```"]
        ),
        "exact_prefix": results_page.exact_prefix_table(rows),
        "anchors": results_page.anchors_table(),
    }
    seeds = results_page.seeds_table(rows)
    if seeds:
        sections["seeds"] = seeds
    test = cifar10_dataset("test", data_dir, batch_size=500)
    # Every gated row's sweep: a knob that moves FLOPs in steps is what
    # routing per image gives; a flat sweep is a fixed sub-network.
    sweeps = {
        row["row"]: _cached(
            os.path.join(root, row["row"], "threshold_sweep.json"),
            lambda name=row["row"]: threshold_sweep(model_of(name), test, taus),
            valid=lambda value: [p["tau"] for p in value] == list(taus),
        )
        for row in rows
        if row.get("routing")
    }
    sections["dynamism"] = results_page.dynamism_table(rows, sweeps)
    sections["operating_points"] = results_page.operating_points_table(
        _operating_points(
            root, sweeps, model_of, data_dir, taus, calibration_examples
        )
    )
    if focus_row in by_name:
        focus_folder = os.path.join(root, focus_row)
        focus_model = model_of(focus_row)
        sweep = sweeps[focus_row]
        sections["sweep"] = results_page.sweep_table(sweep, focus_row)
        per_image = _per_image(focus_model, focus_folder, data_dir)
        figures["keep_by_class"] = plots.plot_keep_by_class(
            per_image["keep"],
            per_image["labels"],
            [str(n) for n in per_image["block_names"]],
            CLASS_NAMES,
            os.path.join(figures_dir, f"{stem}_keep_by_class.png"),
            title=f"{focus_row}: fraction of each block run, by class",
        )
        histograms = {focus_row: per_image["flops"]}
        for name in compare_rows:
            if name in by_name:
                histograms[name] = _per_image(
                    model_of(name), os.path.join(root, name), data_dir
                )["flops"]
        figures["flops_histogram"] = plots.plot_flops_histogram(
            histograms,
            by_name[focus_row]["static_flops"],
            os.path.join(figures_dir, f"{stem}_flops_histogram.png"),
        )
        order = np.argsort(per_image["flops"], kind="stable")
        picked = np.concatenate([order[:8], order[-8:]])
        raw, _ = next(
            cifar10_raw("test", data_dir).batch(10000).as_numpy_iterator()
        )
        figures["easy_hard"] = plots.plot_easy_and_hard(
            raw[picked],
            per_image["flops"][picked],
            per_image["labels"][picked],
            per_image["predictions"][picked],
            CLASS_NAMES,
            os.path.join(figures_dir, f"{stem}_easy_hard.png"),
        )
    figures["pareto"] = plots.plot_pareto(
        [
            {
                "name": row["row"],
                "kind": results_page.row_kind(row["config"]),
                "label": results_page.row_label(row["row"], row["config"]),
                "top1": row["top1"],
                "flops_mean": row["flops_mean"],
            }
            for row in rows
        ],
        os.path.join(figures_dir, f"{stem}_pareto.png"),
        sweep=sweep,
        sweep_label=f"{focus_row}, threshold sweep",
    )
    sections["figures"] = "\n\n".join(
        f"![{name}]({os.path.relpath(path, page_dir)})"
        for name, path in figures.items()
    )
    results_page.update_page(page, sections, title="CIFAR-10 results")
    return {"rows": rows, "sweep": sweep, "figures": figures}
