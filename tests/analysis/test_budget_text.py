from lcnet_tf.analysis.budget_text import budget_text
from tests.fixtures import row_record as _row


def test_budget_text_takes_the_budget_from_gated_rows():
    rows = [
        _row("static", "none", None, epochs=30, learning_rate=0.1),
        _row("static_ft", "none", "static/model.keras"),
        _row(
            "lc", "lc", "static/model.keras", budget_weight=16.0, noise_std=0.5
        ),
        _row("aig", "aig", "static/model.keras", budget_weight=16.0),
    ]
    text = budget_text(rows)
    assert "`static` from scratch: 30 epochs" in text
    assert "(3 rows)" in text and "trains 3 more epochs" in text
    assert "budget loss (weight 16)" in text
    assert "noise 0.5." in text
    only_static = budget_text(rows[:2])
    assert "(1 row)" in only_static and "budget" not in only_static
    assert "distilled" not in text
    kd = _row(
        "kd",
        "lc",
        "static/model.keras",
        budget_weight=16.0,
        distill_from="static/model.keras",
        distill_temperature=4.0,
        distill_weight=0.5,
    )
    assert "temperature 4, weight 0.5" in budget_text(rows + [kd])
    assert "learning rate 0.02 (cosine)" in text
    slow = _row("slow", "lc", "static/model.keras", learning_rate=0.005)
    assert "learning rate 0.02 (0.005 for `slow`) (cosine)" in budget_text(
        rows + [slow]
    )
    # A gates-fixed row is not from scratch: it starts from a gated row.
    fixed = _row("lc_fixed", "lc", None, fix_gates_from="runs/lc/model.keras")
    text = budget_text(rows + [fixed])
    assert "`lc_fixed` from scratch" not in text
    assert "`lc_fixed` starts from a gated row's model (`lc`)" in text
    assert "no noise, no gate regularizer; the budget" in text
    # One that keeps its gates' bounds and shaping says so, and is not
    # described as a gate-training recipe.
    spread = _row(
        "lc_spread",
        "lc",
        None,
        fix_gates_from="runs/lc/model.keras",
        bounds_weight=20.0,
        shaping_weight=1.0,
        keep_rate_low=0.1,
        keep_rate_high=0.9,
        regularizer_anneal=0.1,
        regularize_channel_gates=False,
    )
    text = budget_text(rows + [fixed, spread])
    assert (
        "no noise; `lc_spread` keeps the block gates' keep-rate bounds "
        "[0.1, 0.9] (weight 20, tightened from [0, 1] over 10% of "
        "training) and batch-shaping (weight 1, faded to 0)"
    ) in text
    assert "the gate recipe of `lc_spread`" not in text
    # A row that releases a frozen routing starts from that row's model.
    released = _row(
        "lc_route",
        "lc",
        None,
        release_routing_from="runs/lc_pruned/model.keras",
        noise_std=0.5,
        noise_anneal=0.8,
        bounds_weight=5.0,
        keep_rate_low=0.0,
        keep_rate_high=0.9,
        regularizer_anneal=0.5,
        regularize_channel_gates=False,
    )
    text = budget_text(rows + [released])
    assert "`lc_route` from scratch" not in text
    assert "the gate recipe of `lc_route`" not in text
    assert (
        "`lc_route` starts from a frozen-routing row's model (`lc_pruned`) "
        "and releases its gates: from that routing they learn to route per "
        "image under the budget, with exploration noise faded to 0 over the "
        "first 80% and every block gate's keep rate bounded to [0, 0.9] "
        "(weight 5, tightened from [0, 1] over 50% of training)"
    ) in text
    # Frozen rows say which images their routing was counted over; rows
    # from before the choice existed counted on the test set.
    old = _row("old_frozen", "lc", "s.keras", freeze_routing_from="lc.keras")
    text = budget_text(rows + [old])
    assert "routing over the test images (unlabelled) (no budget" in text
    new = _row(
        "new_frozen",
        "lc",
        "s.keras",
        freeze_routing_from="lc.keras",
        freeze_routing_split="train",
    )
    text = budget_text(rows + [old, new])
    assert (
        "routing over the test images (unlabelled) (`old_frozen`) or the "
        "first 10,000 training images (`new_frozen`)"
    ) in text


def test_budget_text_names_rows_that_tune_a_trained_rows_gates():
    rows = [_row("static", "none", None, epochs=30, learning_rate=0.1)]
    tuned = _row(
        "lc_tuned",
        "lc",
        None,
        tune_gates_from="runs/lc_body/model.keras",
        train_body=False,
        epochs=1,
    )
    text = budget_text(rows + [tuned])
    assert "`lc_tuned` from scratch" not in text
    assert (
        "`lc_tuned` starts from a trained row's model (`lc_body`) and "
        "trains its gates again (a frozen routing stays frozen, its scales "
        "learn), the body held (batch norms in inference mode)"
    ) in text
    both = _row("lc_both", "lc", None, tune_gates_from="runs/lc/model.keras")
    text = budget_text(rows + [both])
    assert "learn)." in text and "body held" not in text
