import pytest

from lcnet_tf.training.dynamic_table import cifar10_dynamic_rows


def test_every_row_sees_the_same_epochs():
    rows = {row.name: row for row in cifar10_dynamic_rows()}
    for name, row in rows.items():
        epochs = row.config.epochs
        source = row.init_from_row or row.freeze_row
        while source is not None:
            parent = rows[source]
            epochs += parent.config.epochs
            source = parent.init_from_row or parent.freeze_row
        expected = 30 if name == "resnet20_static" else 40
        # The first recipe's frozen row also trains its parent's 10.
        if name == "lc_resnet20_t30_e10_frozen":
            expected = 50
        assert epochs == expected, name


def test_second_recipe_rows_are_distilled_and_fade_their_noise():
    rows = {row.name: row for row in cifar10_dynamic_rows()}
    second = [row for name, row in rows.items() if "_r2" in name]
    assert len(second) == 8
    third = rows["lc_resnet20_t30_e10_r3"]
    assert third.teacher_row == "resnet20_static"
    assert third.config.gate_regularizer().channel_gates is False
    for row in second:
        assert row.teacher_row == "resnet20_static"
        assert row.config.distill_weight == 0.5
    lc = rows["lc_resnet20_t30_e10_r2"].config
    assert (lc.noise_anneal, lc.budget_anneal, lc.bounds_weight) == (
        0.8,
        0.3,
        20.0,
    )
    # The AIG row keeps only the budget fields of the recipe.
    aig = rows["aig_resnet20_t50_e10_r2"].config
    assert (aig.noise_anneal, aig.bounds_weight) == (0.0, 0.0)
    frozen = rows["lc_resnet20_t50_e10_r2_frozen"]
    assert frozen.freeze_row == "lc_resnet20_t50_e10_r2"
    assert frozen.init_from_row == "resnet20_static"
    assert frozen.config.budget_weight == 0.0
    for depth in (8, 14):
        kd = rows[f"resnet{depth}_static_e40_kd"]
        assert kd.teacher_row == "resnet20_static"
        assert kd.init_from_row is None


def test_recipe_override_reaches_the_gated_rows():
    rows = cifar10_dynamic_rows(recipe=dict(budget_weight=4.0))
    weights = {
        row.name: row.config.budget_weight
        for row in rows
        if row.name.endswith("_r2")
    }
    assert set(weights.values()) == {4.0}
    with pytest.raises(ValueError, match="noise_anneal"):
        cifar10_dynamic_rows(recipe=dict(noise_std=0.5, noise_anneal=2.0))
