from lcnet_tf.analysis.results_page import anchors_table
from lcnet_tf.analysis.results_page import kind_label
from lcnet_tf.analysis.results_page import operating_points_table
from lcnet_tf.analysis.results_page import results_table
from lcnet_tf.analysis.results_page import row_kind
from lcnet_tf.analysis.results_page import row_label
from lcnet_tf.analysis.results_page import update_page
from tests.fixtures import row_record as _row


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
