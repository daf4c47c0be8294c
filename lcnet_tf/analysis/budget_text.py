"""The training budget of a table's rows, in words, from their configs.

The results pages state how every row was trained (epochs, learning
rates, the gate recipe, where a row starts from) next to the tables;
`budget_text` writes that paragraph from the rows' `TrainConfig`s, so it
cannot drift from what was trained.
"""

import os


def _routing_images(frozen):
    """Which images the frozen rows counted their routing over."""
    from lcnet_tf.training.config import ROUTING_IMAGES

    words = {
        "test": "the test images (unlabelled)",
        "train": f"the first {ROUTING_IMAGES:,} training images",
    }
    by_split = {}
    for row in frozen:
        # Rows trained before the field existed counted on the test set.
        split = row["config"].get("freeze_routing_split", "test")
        by_split.setdefault(split, []).append(row["row"])
    if len(by_split) == 1:
        return words[next(iter(by_split))]
    return " or ".join(
        f"{words[split]} ({_names(names)})"
        for split, names in sorted(by_split.items())
    )


def _epochs(count):
    return f"{count:g} epoch" + ("" if count == 1 else "s")


def _stem(path):
    return os.path.basename(os.path.dirname(path)) or path


def _names(names, template="{}"):
    if not names:
        return None
    listed = ", ".join(f"`{name}`" for name in names)
    return template.format(listed)


def _bounds_text(config):
    """A row's keep-rate bounds, their weight and their tightening."""
    return (
        f"[{config['keep_rate_low']:g}, {config['keep_rate_high']:g}] "
        f"(weight {config['bounds_weight']:g}, tightened from [0, 1] over "
        f"{config['regularizer_anneal']:.0%} of training)"
    )


def _recipe_text(config):
    """The gate-training recipe of one row, in words."""
    units = "gate unit"
    if not config.get("regularize_channel_gates", True):
        units = "block gate (channel gates free)"
    text = (
        f"anneals the budget target from 1.0 over the first "
        f"{config['budget_anneal']:.0%} of training, keeps weight decay off "
        f"the gates, bounds every {units}'s keep rate to "
        f"{_bounds_text(config)} and batch-shapes "
        f"it toward Beta({config['shaping_alpha']:g}, "
        f"{config['shaping_beta']:g}) (weight {config['shaping_weight']:g}, "
        f"faded to 0)"
    )
    if config.get("noise_anneal"):
        text += (
            f", and fades the exploration noise to 0 over the first "
            f"{config['noise_anneal']:.0%}"
        )
    return text


def _fixed_regularizer_text(tuned):
    """What the fixed gates of the rows that fix them still add."""
    kept = [
        r
        for r in tuned
        if r["config"].get("fix_gates_from")
        and (
            r["config"].get("bounds_weight")
            or r["config"].get("shaping_weight")
        )
    ]
    if not kept:
        return "no noise, no gate regularizer"
    config = kept[0]["config"]
    units = "block gates'"
    if config.get("regularize_channel_gates", True):
        units = "gates'"
    return (
        f"no noise; {_names([r['row'] for r in kept])} "
        + ("keeps" if len(kept) == 1 else "keep")
        + f" the {units} keep-rate bounds {_bounds_text(config)} and "
        f"batch-shaping "
        f"(weight {config['shaping_weight']:g}, faded to 0), which act on "
        f"the body's features through the fixed gates, the others no gate "
        f"regularizer"
    )


def _released_text(tuned):
    """What the rows that release a frozen routing's gates train."""
    released = [r for r in tuned if r["config"].get("release_routing_from")]
    if not released:
        return ""
    config = released[0]["config"]
    units = "gate's"
    if not config.get("regularize_channel_gates", True):
        units = "block gate's"
    sources = sorted(
        {_stem(r["config"]["release_routing_from"]) for r in released}
    )
    return (
        f"; {_names([r['row'] for r in released])} "
        + ("starts" if len(released) == 1 else "start")
        + f" from a frozen-routing row's model (`{'`, `'.join(sources)}`) "
        f"and releases its gates: from that routing they learn to route "
        f"per image under the budget, with exploration noise faded to 0 "
        f"over the first {config.get('noise_anneal', 0):.0%} and every "
        f"{units} keep rate bounded to {_bounds_text(config)}"
    )


def _tuned_gates_text(tuned):
    """What the rows that tune a trained row's gates train."""
    rows = [r for r in tuned if r["config"].get("tune_gates_from")]
    if not rows:
        return ""
    held = all(not r["config"].get("train_body", True) for r in rows)
    sources = sorted({_stem(r["config"]["tune_gates_from"]) for r in rows})
    return (
        f"; {_names([r['row'] for r in rows])} "
        + ("starts" if len(rows) == 1 else "start")
        + f" from a trained row's model (`{'`, `'.join(sources)}`) and "
        "trains its gates again (a frozen routing stays frozen, its scales "
        "learn)"
        + (", the body held (batch norms in inference mode)" if held else "")
    )


def budget_text(rows):
    """States the training budget of the rows, from their configs."""

    def started(row):
        config = row["config"]
        return (
            config.get("init_from")
            or config.get("freeze_routing_from")
            or config.get("fix_gates_from")
            or config.get("release_routing_from")
            or config.get("tune_gates_from")
        )

    static = [r for r in rows if not started(r)]
    tuned = [r for r in rows if started(r)]
    lines = []
    for row in static:
        config = row["config"]
        lines.append(
            f"- `{row['row']}` from scratch: {config['epochs']} epochs, "
            f"batch {config['batch_size']}, SGD momentum "
            f"{config['momentum']}, learning rate {config['learning_rate']}"
            f" ({config['schedule']}, {_epochs(config['warmup_epochs'])} "
            f"of warm-up), weight decay {config['weight_decay']}, standard "
            f"augmentation (pad 4 + crop, flip)"
            + (
                f", distilled from `{_stem(config['distill_from'])}`"
                if config.get("distill_from")
                else ""
            )
            + "."
        )
    if tuned:
        config = tuned[0]["config"]
        epochs = sorted({r["config"]["epochs"] for r in tuned})
        count = f"{len(tuned)} row" + ("" if len(tuned) == 1 else "s")
        rates = sorted(
            {r["config"]["learning_rate"] for r in tuned},
            key=lambda rate: (
                -sum(r["config"]["learning_rate"] == rate for r in tuned)
            ),
        )
        others = "".join(
            f" ({rate} for "
            + _names(
                [
                    r["row"]
                    for r in tuned
                    if r["config"]["learning_rate"] == rate
                ]
            )
            + ")"
            for rate in rates[1:]
        )
        text = (
            f"- Every other row ({count}) starts from that static network "
            f"and trains {', '.join(map(str, epochs))} more epochs with "
            f"one recipe: learning rate {rates[0]}{others} "
            f"({config['schedule']}), the rest as above"
        )
        # The budget and the noise belong to the gated rows; the static
        # row fine-tuned alongside them has neither.
        gated = [r["config"] for r in tuned if r["config"]["gating"] != "none"]
        if gated:
            weights = sorted({c["budget_weight"] for c in gated})
            noise = sorted(
                {c["noise_std"] for c in gated if c["gating"] != "aig"}
            )
            text += (
                f"; gated rows add their budget loss (weight "
                f"{', '.join(f'{w:g}' for w in weights)})"
            )
            if noise:
                text += (
                    f" and, for LC/L/C, logistic exploration noise "
                    f"{', '.join(f'{n:g}' for n in noise)}"
                )
        recipes = {}
        for row in tuned:
            fields = row["config"]
            if fields.get("bounds_weight") and not (
                fields.get("fix_gates_from")
                or fields.get("release_routing_from")
            ):
                key = _recipe_text(row["config"])
                recipes.setdefault(key, []).append(row["row"])
        for recipe, names in recipes.items():
            text += f"; the gate recipe of {_names(names)} {recipe}"
        frozen = [r for r in tuned if r["config"].get("freeze_routing_from")]
        if frozen:
            static = [r["row"] for r in frozen if r["config"].get("init_from")]
            parent = [r["row"] for r in frozen if r["row"] not in static]
            starts = [
                _names(static, "the static weights ({})"),
                _names(parent, "their LC row's weights ({})"),
            ]
            text += (
                "; frozen-routing rows fix their LC row's most frequent "
                f"routing over {_routing_images(frozen)} (no budget loss) "
                "and start from " + " or ".join(part for part in starts if part)
            )
        fixed = [r["row"] for r in tuned if r["config"].get("fix_gates_from")]
        if fixed:
            text += (
                f"; {_names(fixed)} "
                + ("starts" if len(fixed) == 1 else "start")
                + " from a gated row's model (`"
                + "`, `".join(
                    sorted(
                        {
                            _stem(r["config"]["fix_gates_from"])
                            for r in tuned
                            if r["config"].get("fix_gates_from")
                        }
                    )
                )
                + "`), its gates fixed ("
                + _fixed_regularizer_text(tuned)
                + "; the budget loss kept) and trains only its body"
            )
        text += _released_text(tuned)
        text += _tuned_gates_text(tuned)
        distilled = [c for c in gated if c.get("distill_from")]
        if distilled:
            config = distilled[0]
            text += (
                f"; distilled rows also learn from the static network's "
                f"logits (KL at temperature "
                f"{config['distill_temperature']:g}, weight "
                f"{config['distill_weight']:g}; the label loss gets the "
                f"rest)"
            )
        lines.append(text + ".")
    return "\n".join(lines)
