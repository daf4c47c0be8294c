from lcnet_tf.analysis.results_page import anchors_table
from lcnet_tf.analysis.results_page import row_kind
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
    assert row_kind({"gating": "lc", "scale": "learned"}) == "lc"
    assert row_kind({"gating": "lc", "scale": "gate"}) == "ablation"
    assert row_kind({"gating": "aig", "scale": "learned"}) == "aig"
    table = anchors_table()
    assert "theirs" in table and "93.6%" in table and "55.4 MMAC" in table
