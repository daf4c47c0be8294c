from lcnet_tf.analysis.results_page import anchors_table
from lcnet_tf.analysis.results_page import budget_text
from lcnet_tf.analysis.results_page import kind_label
from lcnet_tf.analysis.results_page import operating_points_table
from lcnet_tf.analysis.results_page import results_table
from lcnet_tf.analysis.results_page import row_kind
from lcnet_tf.analysis.results_page import row_label
from lcnet_tf.analysis.results_page import update_page


def test_update_page_keeps_prose_and_replaces_sections(tmp_path):
    page = str(tmp_path / "sub" / "page.md")
    update_page(page, {"table": "| a |", "anchors": "x"}, title="T")
    text = open(page).read()
    assert text.startswith("# T\n")
    assert "<!-- begin:table -->\n| a |\n<!-- end:table -->" in text
    edited = text.replace("# T\n", "# T\n\nHand-written findings.\n")
    open(page, "w").write(edited)
    text = update_page(page, {"table": "| b |", "new": "y"})
    assert "Hand-written findings." in text
    assert "| a |" not in text and "| b |" in text
    assert text.count("<!-- begin:table -->") == 1
    assert text.index("begin:anchors") < text.index("begin:new")


def test_row_kinds_and_anchors_are_marked_as_theirs():
    assert row_kind({"gating": "none"}) == "static"
    frozen = {"gating": "lc", "freeze_routing_from": "lc/model.keras"}
    assert row_kind(frozen) == "frozen"
    assert row_kind({"gating": "lc", "scale": "learned"}) == "lc"
    assert row_kind({"gating": "lc", "scale": "gate"}) == "ablation"
    assert row_kind({"gating": "aig", "scale": "learned"}) == "aig"
    static = {"gating": "none", "depth": 8, "init_from": None}
    assert row_label("resnet8_static_e40", static) == "ResNet-8"
    tuned = {"gating": "none", "depth": 20, "init_from": "x.keras"}
    assert row_label("resnet20_static_ft", tuned) == "ResNet-20, ft"
    gated = {"gating": "lc", "budget_target": 0.3, "scale": "learned"}
    assert row_label("lc_resnet20_t30", gated) == "0.3"
    ablation = {**gated, "budget_target": 0.5, "scale": "gate"}
    assert row_label("x", ablation) == "0.5, scale gate"
    distilled = {**gated, "distill_from": "runs/static/model.keras"}
    assert row_kind(distilled) == "distilled"
    assert row_label("lc_resnet20_t30_kd", distilled) == "0.3, distilled"
    nested = {**distilled, "channel_selection": "nested"}
    assert row_label("x", nested) == "0.3, distilled, nested"
    assert (
        kind_label(nested) == "LC-Net, distilled from static, nested channels"
    )
    assert kind_label({"gating": "c", "channel_selection": "free"}) == (
        "C-Net only"
    )
    lane = {**nested, "channel_groups": 16}
    assert row_label("x", lane) == "0.3, distilled, nested16"
    assert kind_label(lane).endswith("nested channels (groups of 16)")
    table = anchors_table()
    assert "theirs" in table and "93.6%" in table and "55.4 MMAC" in table


def _row(name, gating, init_from, **config):
    base = dict(
        gating=gating,
        init_from=init_from,
        epochs=3,
        batch_size=128,
        momentum=0.9,
        learning_rate=0.02,
        schedule="cosine",
        warmup_epochs=0,
        weight_decay=5e-4,
        budget_weight=1.0,
        noise_std=0.0,
    )
    return {"row": name, "config": {**base, **config}}


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


def test_results_table_deltas_reductions_and_aig_scale():
    def result(name, gating, top1, flops, **config):
        row = _row(name, gating, None, budget_target=0.3, **config)
        row.update(
            top1=top1,
            flops_mean=flops,
            flops_min=flops / 2,
            flops_max=flops,
            static_flops=40e6,
            gate_overhead=0,
        )
        return row

    static = result("static", "none", 0.85, 40e6)
    rows = [
        static,
        result("lc", "lc", 0.80, 10e6, scale="learned"),
        result("aig", "aig", 0.75, 20e6, scale="learned"),
    ]
    rows[1]["latency"] = {
        "latency_ratio": 0.5,
        "model_ms": 0.5,
        "static_ms": 1.0,
    }
    lines = results_table(rows, static).splitlines()
    assert lines[2].startswith("| `static` | static ResNet | - | - | 85.00%")
    assert (
        "| learned | 0.30 | 80.00% | -5.00 | 10.00M | 5.0-10.0M | 4.00x |"
    ) in lines[3]
    assert lines[3].endswith("| 0.500 (0.500 / 1.000 ms) |")
    assert "| ConvNet-AIG-style baseline | none | 0.30 | 75.00% |" in lines[4]
    assert lines[4].endswith("| - |")


def test_seeds_table_puts_each_row_beside_its_seed_copies():
    from lcnet_tf.analysis.results_page import seeds_table

    def row(name, seed, top1, flops=12e6):
        return {
            "row": name,
            "config": {"seed": seed},
            "top1": top1,
            "flops_mean": flops,
        }

    rows = [
        row("lc_t30", 0, 0.80),
        row("other", 0, 0.70),
        row("lc_t30_s2", 2, 0.81, 13e6),
        row("lc_t30_s1", 1, 0.79, 14e6),
        # A copy whose original is not in the table is not a seed copy.
        row("missing_s1", 1, 0.5),
    ]
    lines = seeds_table(rows).splitlines()
    assert len(lines) == 3
    assert lines[2] == (
        "| `lc_t30` | 0, 1, 2 | 80.00%, 79.00%, 81.00% | 80.00% | 2.00 "
        "| 13.0M |"
    )
    assert seeds_table(rows[:2]) == ""


def test_operating_points_table_counts_points_and_says_monotone():
    from lcnet_tf.analysis import choose_operating_points

    sweep = [
        {"tau": 0.05, "top1": 0.80, "flops_ratio": 0.90},
        {"tau": 0.3, "top1": 0.82, "flops_ratio": 0.70},
        {"tau": 0.5, "top1": 0.81, "flops_ratio": 0.60},
        {"tau": 0.7, "top1": 0.60, "flops_ratio": 0.40},
        {"tau": 0.9, "top1": 0.20, "flops_ratio": 0.20},
    ]
    table = operating_points_table(
        {"row_a": choose_operating_points(sweep, sweep, 0.0)}
    )
    row = table.splitlines()[-1]
    # 3 sweep points in 0.25-0.8, not monotone (0.90 is below 0.70); the
    # knob drops 0.05 and keeps 0.3 / 0.5 / 0.7 in range, monotone.
    assert row.startswith("| `row_a` | 3 | no | 3 | yes |")
    assert "0.3: 82.00% at 0.700" in row and "0.05:" not in row
