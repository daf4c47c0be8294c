"""Builders of the dynamic table's rows that recipes share.

`cifar10_dynamic_rows` composes these: a gated row distilled from the
static network, a frozen-routing twin, recipe 5's gate-then-body pair,
the single-target probes of recipes 4 and 11, recipe 13 with its
frozen twin, and recipe 14.
"""

import dataclasses

from lcnet_tf.training.config import TrainConfig
from lcnet_tf.training.experiments import ExperimentRow
from lcnet_tf.training.recipes import BLOCK_RECIPE
from lcnet_tf.training.recipes import BOUNDS_SHAPING_RECIPE
from lcnet_tf.training.recipes import DISTILL_RECIPE
from lcnet_tf.training.recipes import DYNAMIC_RECIPE
from lcnet_tf.training.recipes import FINETUNE_LR_PROBE
from lcnet_tf.training.recipes import GATE_EPOCHS
from lcnet_tf.training.recipes import NESTED_LANE_GROUPS
from lcnet_tf.training.recipes import PRUNED_EPOCHS
from lcnet_tf.training.recipes import ROUTE_EPOCHS
from lcnet_tf.training.recipes import ROUTE_RECIPE
from lcnet_tf.training.recipes import TUNE_BUDGET_RECIPE
from lcnet_tf.training.recipes import TUNE_EPOCHS
from lcnet_tf.training.recipes import TUNE_RECIPE

# The recipe fields the ConvNet-AIG-style baseline takes: it has its own
# target-rate loss instead of the gate regularizers.
AIG_FIELDS = ("budget_weight", "budget_anneal", "gate_weight_decay")


def recipe_for(gating, recipe):
    """`recipe`'s fields that a row of `gating` takes."""
    if gating == "aig":
        return {k: v for k, v in recipe.items() if k in AIG_FIELDS}
    return dict(recipe)


def target_tag(target):
    """A row name's part for a FLOPs target: 0.65 -> 't65'."""
    return f"t{int(round(target * 100)):02d}"


def distilled_row(name, gating, target, fields, finetune, static):
    """A gated row fine-tuned from `static` and distilled from it."""
    return ExperimentRow(
        name,
        TrainConfig(
            gating=gating,
            budget_target=target,
            **fields,
            **DISTILL_RECIPE,
            **finetune,
        ),
        init_from_row=static,
        teacher_row=static,
    )


def frozen_row(
    source, target, finetune, static=None, split="test", scales="constant"
):
    """`source`'s most frequent routing frozen and trained as long.

    With `static`, the pruned network starts from that row's weights and
    learns from its logits, as the gated rows do; without, it starts from
    the gated row's own weights (the first recipe's twin). The routing
    is counted over `split`'s images; rows on training images are named
    `..._frozen_train`. With `scales="learned"` the LC-Net scales train
    per image on the frozen routing (`..._scaled`).
    """
    distill = DISTILL_RECIPE if static else {}
    return ExperimentRow(
        f"{source}_frozen"
        + ("_train" if split == "train" else "")
        + ("_scaled" if scales == "learned" else ""),
        TrainConfig(
            gating="lc",
            budget_target=target,
            budget_weight=0.0,
            freeze_routing_split=split,
            freeze_routing_scales=scales,
            **distill,
            **finetune,
        ),
        init_from_row=static,
        teacher_row=static,
        freeze_row=source,
    )


def _body_fields(target, finetune, epochs, gating="lc"):
    """`TrainConfig` fields of a body stage on a gate row's fixed gates."""
    return dict(
        gating=gating,
        budget_target=target,
        # Holds the FLOPs while the body (which the gates read) trains.
        budget_weight=BLOCK_RECIPE["budget_weight"],
        **DISTILL_RECIPE,
        **dict(finetune, epochs=epochs),
    )


def fixed_gates_rows(
    target,
    finetune,
    suffix,
    static,
    gate_epochs=GATE_EPOCHS,
    tag="r5",
    architecture=None,
    spread=None,
    body_fields=None,
    gating="lc",
):
    """Recipe 5 (or 6) at `target`: the gate-training row (`gate_epochs`),
    then the row that fine-tunes its body with the gates fixed, for
    `gating`'s gates (LC-Net's unless told).
    `architecture` holds `TrainConfig` fields of the gated model (the
    body row reads its architecture from the gate row's model).
    `spread` maps tags to regularizer fields: for each, one more body
    row from the same gate row, named with the tag, keeps those bounds
    and batch-shaping on the fixed gates (recipes 7 and 8);
    `body_fields` does so for the body row itself (recipe 10)."""
    name = f"{gating}_resnet20_{target_tag(target)}_{suffix}_{tag}"
    gates = f"{name}_gates"
    body_epochs = finetune["epochs"] - gate_epochs
    if body_epochs < 1:
        return []
    body = _body_fields(target, finetune, body_epochs, gating)
    rows = [
        distilled_row(
            gates,
            gating,
            target,
            dict(recipe_for(gating, BLOCK_RECIPE), **(architecture or {})),
            dict(finetune, epochs=gate_epochs),
            static,
        ),
        ExperimentRow(
            name,
            TrainConfig(**dict(body, **(body_fields or {}))),
            teacher_row=static,
            fix_gates_row=gates,
        ),
    ]
    for spread_tag, fields in (spread or {}).items():
        rows.append(
            ExperimentRow(
                f"lc_resnet20_{target_tag(target)}_{suffix}_{spread_tag}",
                TrainConfig(**dict(body, **fields)),
                teacher_row=static,
                fix_gates_row=gates,
            )
        )
    return rows


def recipe_comparison_rows(finetune, suffix, static):
    """The fourth recipe's LC rows at 0.65 and 0.3 with frozen twins,
    and the second and the first recipe's LC rows at 0.3; the first has
    its frozen twin."""
    source = f"lc_resnet20_t30_{suffix}"
    slow = dict(finetune, learning_rate=FINETUNE_LR_PROBE)
    probes = []
    for target in (0.65, 0.3):
        name = f"lc_resnet20_{target_tag(target)}_{suffix}_r4"
        probes += [
            distilled_row(name, "lc", target, BLOCK_RECIPE, slow, static),
            frozen_row(name, target, slow, static),
        ]
    return probes + [
        distilled_row(
            f"{source}_r2", "lc", 0.3, DYNAMIC_RECIPE, finetune, static
        ),
        ExperimentRow(
            source,
            TrainConfig(
                gating="lc",
                budget_target=0.3,
                **BOUNDS_SHAPING_RECIPE,
                **finetune,
            ),
            init_from_row=static,
        ),
        frozen_row(source, 0.3, finetune),
    ]


def prune_then_route_rows(target, finetune, suffix, static):
    """Recipe 11 at `target`: recipe 3's LC row's most frequent routing
    (on training images) trained for `PRUNED_EPOCHS`, then released."""
    source = f"lc_resnet20_{target_tag(target)}_{suffix}_r3"
    name = f"lc_resnet20_{target_tag(target)}_{suffix}_r11"
    pruned = dataclasses.replace(
        frozen_row(
            source,
            target,
            dict(finetune, epochs=PRUNED_EPOCHS),
            static,
            split="train",
        ),
        name=f"{name}_pruned",
    )
    route = ExperimentRow(
        name,
        TrainConfig(
            gating="lc",
            budget_target=target,
            **ROUTE_RECIPE,
            **DISTILL_RECIPE,
            **dict(finetune, epochs=finetune["epochs"] - PRUNED_EPOCHS),
        ),
        teacher_row=static,
        release_row=pruned.name,
    )
    return [pruned, route]


def tuned_body_rows(
    name,
    target,
    gates,
    body_epochs,
    finetune,
    static,
    tune_recipe,
    body_fields=None,
    gating="lc",
):
    """A gate row's gates fixed while its body trains `body_epochs`
    (`<name>_body`, with `body_fields` added), then the gates alone on
    the held body for `TUNE_EPOCHS` with `tune_recipe` (`<name>`)."""
    body = ExperimentRow(
        f"{name}_body",
        TrainConfig(
            **dict(
                _body_fields(target, finetune, body_epochs, gating),
                **(body_fields or {}),
            )
        ),
        teacher_row=static,
        fix_gates_row=gates,
    )
    return [
        body,
        _tuned_row(
            name, body.name, target, finetune, static, tune_recipe, gating
        ),
    ]


def _tuned_row(
    name, source, target, finetune, static, tune_recipe, gating="lc"
):
    return ExperimentRow(
        name,
        TrainConfig(
            gating=gating,
            budget_target=target,
            **tune_recipe,
            **DISTILL_RECIPE,
            **dict(finetune, epochs=TUNE_EPOCHS),
        ),
        teacher_row=static,
        tune_gates_row=source,
    )


def tuned_last_epoch_rows(finetune, suffix, static):
    """Recipe 13 at 0.65 and its frozen twin, each in two rows: recipe
    12's gate row's routing, its body trained `TUNE_EPOCHS` fewer epochs
    (`..._body`), then the gates alone on the held body for those
    (`TUNE_RECIPE`); and recipe 12's learned-scales frozen row trained
    as many fewer epochs, then its scales alone the same way."""
    r12 = f"lc_resnet20_t65_{suffix}_r12_nested{NESTED_LANE_GROUPS}"
    name = f"lc_resnet20_t65_{suffix}_r13_nested{NESTED_LANE_GROUPS}"
    shorter = dict(finetune, epochs=finetune["epochs"] - TUNE_EPOCHS)
    rows = tuned_body_rows(
        name,
        0.65,
        f"{r12}_gates",
        shorter["epochs"] - ROUTE_EPOCHS,
        finetune,
        static,
        TUNE_RECIPE,
    )
    frozen = frozen_row(
        r12, 0.65, shorter, static, split="train", scales="learned"
    )
    frozen = dataclasses.replace(frozen, name=f"{frozen.name}_r13_body")
    return rows + [
        frozen,
        _tuned_row(
            frozen.name.removesuffix("_body"),
            frozen.name,
            0.65,
            finetune,
            static,
            TUNE_RECIPE,
        ),
    ]


def tuned_fixed_gates_rows(
    target,
    finetune,
    suffix,
    static,
    gates_tag="r5",
    tag="r14",
    body_fields=None,
    gating="lc",
):
    """Recipe 14 at `target`: recipe 5's gate row, its body trained
    `TUNE_EPOCHS` fewer epochs than recipe 5's, then the gates alone on
    the held body with the budget kept (`TUNE_BUDGET_RECIPE`); and the
    frozen row the issue defines for it: its most frequent routing on
    training images, pruned and trained as long from the static
    weights (`..._<tag>_frozen_train`). `gates_tag` names another gate
    row (`..._<gates_tag>_gates`, e.g. recipe 10's) and `body_fields`
    what its body stage adds, as in that recipe. With another `gating`
    (L-Net, C-Net or the ConvNet-AIG-style baseline: the same recipe
    for the table's comparison) there is no frozen row."""
    prefix = f"{gating}_resnet20_{target_tag(target)}_{suffix}"
    rows = tuned_body_rows(
        f"{prefix}_{tag}",
        target,
        f"{prefix}_{gates_tag}_gates",
        finetune["epochs"] - GATE_EPOCHS - TUNE_EPOCHS,
        finetune,
        static,
        TUNE_BUDGET_RECIPE,
        body_fields,
        gating,
    )
    if gating != "lc":
        return rows
    return rows + [
        frozen_row(f"{prefix}_{tag}", target, finetune, static, split="train")
    ]


def retuned_rows(tuned, tag, tune_fields, target, finetune, suffix, static):
    """A second gate stage on the body of `tuned` (a row of
    `tuned_fixed_gates_rows`), with `tune_fields` added to its recipe
    (`..._<tag>`), and that row's frozen row."""
    name = f"lc_resnet20_{target_tag(target)}_{suffix}_{tag}"
    config = dataclasses.replace(tuned.config, **tune_fields)
    return [
        dataclasses.replace(tuned, name=name, config=config),
        frozen_row(name, target, finetune, static, split="train"),
    ]
