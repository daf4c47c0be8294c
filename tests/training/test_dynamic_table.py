import dataclasses
import re

import pytest

from lcnet_tf.training.dynamic_table import cifar10_dynamic_rows


def test_every_row_sees_the_same_epochs():
    rows = {row.name: row for row in cifar10_dynamic_rows()}
    for name, row in rows.items():
        epochs = row.config.epochs
        source = (
            row.init_from_row
            or row.freeze_row
            or row.fix_gates_row
            or row.release_row
            or row.tune_gates_row
        )
        while source is not None:
            parent = rows[source]
            epochs += parent.config.epochs
            source = (
                parent.init_from_row
                or parent.freeze_row
                or parent.fix_gates_row
                or parent.release_row
                or parent.tune_gates_row
            )
        expected = 30 if name == "resnet20_static" else 40
        # The gate-training row of recipes 5 and 10 is their first 6
        # fine-tuning epochs, recipes 6 and 12 their first 3. (Seed copies,
        # `..._s<seed>`, train as long as their originals.)
        unseeded = re.sub(r"_s\d+$", "", name)
        if re.search(r"_r(5|10)(_proj|_nested16(_min1)?)?_gates$", unseeded):
            expected = 36
        if re.search(r"_r(6|12_nested16(_min1)?)_gates$", unseeded):
            expected = 33
        # The body rows of recipes 13 to 15 (16 and 17 share 15's) and 18
        # are their first 9 fine-tuning epochs.
        if re.search(r"_r1[3458](_nested16|_proj)?_body$", unseeded):
            expected = 39
        # Recipe 11's pruned row is its first 6 fine-tuning epochs.
        if name.endswith("_r11_pruned"):
            expected = 36
        # The first recipe's frozen row also trains its parent's 10.
        if name == "lc_resnet20_t30_e10_frozen":
            expected = 50
        assert epochs == expected, name


def test_table_rows_are_distilled_and_regularize_block_gates_only():
    rows = {row.name: row for row in cifar10_dynamic_rows()}
    table = [row for name, row in rows.items() if name.endswith("_r3")]
    assert sorted(row.name for row in table) == [
        "aig_resnet20_t50_e10_r3",
        "c_resnet20_t50_e10_r3",
        "l_resnet20_t50_e10_r3",
        "lc_resnet20_t30_e10_r3",
        "lc_resnet20_t50_e10_r3",
        "lc_resnet20_t65_e10_r3",
    ]
    for row in table:
        assert row.teacher_row == "resnet20_static"
        assert row.config.distill_weight == 0.5
    lc = rows["lc_resnet20_t65_e10_r3"].config
    assert lc.budget_target == 0.65
    assert (lc.noise_anneal, lc.budget_anneal, lc.bounds_weight) == (
        0.8,
        0.3,
        20.0,
    )
    assert lc.gate_regularizer().channel_gates is False
    # The second recipe's row regularizes every gate unit.
    second = rows["lc_resnet20_t30_e10_r2"]
    assert second.teacher_row == "resnet20_static"
    assert second.config.gate_regularizer().channel_gates is True
    # The AIG row keeps only the budget fields of the recipe.
    aig = rows["aig_resnet20_t50_e10_r3"].config
    assert (aig.noise_anneal, aig.bounds_weight) == (0.0, 0.0)
    for target in ("t30", "t50", "t65"):
        frozen = rows[f"lc_resnet20_{target}_e10_r3_frozen"]
        assert frozen.freeze_row == f"lc_resnet20_{target}_e10_r3"
        assert frozen.init_from_row == "resnet20_static"
        assert frozen.config.budget_weight == 0.0
        # Counted where these rows were trained.
        assert frozen.config.freeze_routing_split == "test"
    # At 0.5, where the training images' routing differs, a twin counts
    # there; otherwise the same row.
    train = rows["lc_resnet20_t50_e10_r3_frozen_train"]
    test = rows["lc_resnet20_t50_e10_r3_frozen"]
    assert train.config.freeze_routing_split == "train"
    assert dataclasses.replace(train, name=test.name) == dataclasses.replace(
        test,
        config=dataclasses.replace(test.config, freeze_routing_split="train"),
    )
    # Recipe 12's own routing, counted on training images, is frozen
    # the same way (its architecture, nested channels included, comes
    # from the frozen model itself).
    own = rows["lc_resnet20_t65_e10_r12_nested16_frozen_train"]
    assert own.freeze_row == "lc_resnet20_t65_e10_r12_nested16"
    assert dataclasses.replace(own.config, freeze_routing_split="test") == (
        rows["lc_resnet20_t65_e10_r3_frozen"].config
    )
    scaled = rows["lc_resnet20_t65_e10_r12_nested16_frozen_train_scaled"]
    assert scaled.freeze_row == own.freeze_row
    assert scaled.config == dataclasses.replace(
        own.config, freeze_routing_scales="learned"
    )
    # Recipe 4 is recipe 3 at a quarter of the fine-tuning rate, frozen
    # twins included.
    for name in ("lc_resnet20_t65_e10_r4", "lc_resnet20_t30_e10_r4_frozen"):
        assert rows[name].config.learning_rate == 0.005
    assert rows["lc_resnet20_t65_e10_r3"].config.learning_rate == 0.02
    # Recipe 5: recipe 3 for 6 epochs, then the body alone for 4.
    gates = rows["lc_resnet20_t65_e10_r5_gates"]
    fixed = rows["lc_resnet20_t65_e10_r5"]
    for target in (0.3, 0.5):
        name = f"lc_resnet20_t{int(target * 100)}_e10_r5"
        assert rows[name].config.budget_target == target
    assert gates.config.bounds_weight == lc.bounds_weight
    assert gates.init_from_row == "resnet20_static"
    assert fixed.fix_gates_row == gates.name and fixed.init_from_row is None
    assert fixed.teacher_row == "resnet20_static"
    assert fixed.config.noise_std == 0.0
    assert fixed.config.budget_weight == lc.budget_weight
    # Recipe 6: the same at 0.3, 3 gate epochs and 7 of the body alone.
    short = rows["lc_resnet20_t30_e10_r6"]
    assert short.fix_gates_row == "lc_resnet20_t30_e10_r6_gates"
    assert short.config.epochs == 7
    assert rows[short.fix_gates_row].config.epochs == 3
    assert rows[short.fix_gates_row].config.budget_target == 0.3
    # Recipe 5 with the projection blocks gated too: only the gate row
    # says so (the body row reads its architecture from that model).
    for target in ("t30", "t50", "t65"):
        proj = rows[f"lc_resnet20_{target}_e10_r5_proj"]
        proj_gates = rows[proj.fix_gates_row]
        assert proj_gates.name == f"lc_resnet20_{target}_e10_r5_proj_gates"
        assert proj_gates.config.gate_projection_blocks
        assert (
            dataclasses.replace(proj_gates.config, gate_projection_blocks=False)
            == rows[f"lc_resnet20_{target}_e10_r5_gates"].config
        )
        assert proj.config == rows[f"lc_resnet20_{target}_e10_r5"].config
        # Recipe 7: recipe 5's body row from the same gate row, with the
        # block gates' bounds and batch-shaping kept.
        for tag in ("r5", "r5_proj"):
            body = rows[f"lc_resnet20_{target}_e10_{tag}"]
            spread = rows[f"lc_resnet20_{target}_e10_{tag.replace('5', '7')}"]
            assert spread.fix_gates_row == body.fix_gates_row
            assert spread.teacher_row == body.teacher_row
            regularizer = spread.config.gate_regularizer()
            assert regularizer.bounds_weight == lc.bounds_weight
            assert regularizer.shaping_weight == lc.shaping_weight
            assert regularizer.channel_gates is False
            assert (
                dataclasses.replace(
                    spread.config,
                    bounds_weight=0.0,
                    shaping_weight=0.0,
                    regularize_channel_gates=True,
                    regularizer_anneal=0.5,
                )
                == body.config
            )
    # Recipe 8, at 0.3 only: recipe 7 at a quarter of its weights.
    light = rows["lc_resnet20_t30_e10_r8_proj"]
    spread = rows["lc_resnet20_t30_e10_r7_proj"]
    assert light.fix_gates_row == spread.fix_gates_row
    assert light.config.bounds_weight == spread.config.bounds_weight / 4
    assert light.config.shaping_weight == spread.config.shaping_weight / 4
    assert (
        dataclasses.replace(
            light.config, bounds_weight=20.0, shaping_weight=1.0
        )
        == spread.config
    )
    assert not any(n.endswith("_r8_proj") and "t30" not in n for n in rows)
    # Recipe 10, at 0.65 and 0.5: recipe 8's body row from a gate row, both
    # with the block gates bounded to [0.2, 0.8].
    wide = rows["lc_resnet20_t65_e10_r10_proj"]
    wide_gates = rows[wide.fix_gates_row]
    assert wide_gates.name == "lc_resnet20_t65_e10_r10_proj_gates"
    assert (
        dataclasses.replace(
            wide_gates.config, keep_rate_low=0.1, keep_rate_high=0.9
        )
        == rows["lc_resnet20_t65_e10_r5_proj_gates"].config
    )
    regularizer = wide.config.gate_regularizer()
    assert (regularizer.low, regularizer.high) == (0.2, 0.8)
    assert regularizer.bounds_weight == light.config.bounds_weight
    assert (
        dataclasses.replace(
            wide.config,
            keep_rate_low=0.1,
            keep_rate_high=0.9,
            bounds_weight=0.0,
            shaping_weight=0.0,
            regularize_channel_gates=True,
            regularizer_anneal=0.5,
        )
        == rows["lc_resnet20_t65_e10_r5_proj"].config
    )
    for target in (0.5, 0.3):
        name = f"lc_resnet20_t{round(100 * target)}_e10_r10_proj"
        assert rows[name].config == dataclasses.replace(
            wide.config, budget_target=target
        )
    # Recipe 11, at 0.65: recipe 3's routing on training images, pruned
    # and trained 6 epochs as a frozen row is, then released for 4.
    route = rows["lc_resnet20_t65_e10_r11"]
    pruned = rows[route.release_row]
    frozen = rows["lc_resnet20_t65_e10_r3_frozen"]
    assert pruned.name == "lc_resnet20_t65_e10_r11_pruned"
    assert (pruned.freeze_row, pruned.init_from_row) == (
        "lc_resnet20_t65_e10_r3",
        "resnet20_static",
    )
    assert dataclasses.replace(
        pruned.config, epochs=10, freeze_routing_split="test"
    ) == dataclasses.replace(frozen.config)
    assert route.teacher_row == "resnet20_static"
    assert route.config.budget_target == 0.65
    assert route.config.noise_std > 0 and route.config.noise_anneal > 0
    regularizer = route.config.gate_regularizer()
    assert (regularizer.low, regularizer.high) == (0.0, 0.9)
    assert regularizer.channel_gates is False
    # Recipe 9, at 0.65 only: recipe 5's body stage at drawn thresholds,
    # without the budget term.
    jitter = rows["lc_resnet20_t65_e10_r9"]
    body = rows["lc_resnet20_t65_e10_r5"]
    assert jitter.fix_gates_row == body.fix_gates_row
    assert jitter.config.threshold_jitter() is not None
    assert (
        dataclasses.replace(
            jitter.config,
            threshold_jitter_low=None,
            threshold_jitter_high=None,
            budget_weight=body.config.budget_weight,
        )
        == body.config
    )
    assert not any(n.endswith("_r9") and "t65" not in n for n in rows)
    # Recipe 5 with lane-wide nested channels, at 0.65, 0.5 and 0.3: only
    # the gate row differs, in its channel selection.
    for target in ("t65", "t50", "t30"):
        lane = rows[f"lc_resnet20_{target}_e10_r5_nested16"]
        lane_gates = rows[lane.fix_gates_row]
        assert lane_gates.name == f"{lane.name}_gates"
        assert (
            lane_gates.config.channel_selection,
            lane_gates.config.channel_groups,
        ) == ("nested", 16)
        assert (
            dataclasses.replace(
                lane_gates.config, channel_selection="free", channel_groups=1
            )
            == rows[f"lc_resnet20_{target}_e10_r5_gates"].config
        )
        assert lane.config == rows[f"lc_resnet20_{target}_e10_r5"].config
    # Three targets, a gate row and a body row each (seed copies aside).
    lane_rows = [n for n in rows if re.search(r"_r5_nested16(_gates)?$", n)]
    assert len(lane_rows) == 6
    # At 0.65 also with the first channel group always running: the gate
    # row differs from the nested one in that alone, the body not at all.
    least = rows["lc_resnet20_t65_e10_r5_nested16_min1"]
    assert least.fix_gates_row == f"{least.name}_gates"
    least_gates = rows[least.fix_gates_row].config
    assert least_gates.channel_min_groups == 1
    assert dataclasses.replace(least_gates, channel_min_groups=0) == (
        rows["lc_resnet20_t65_e10_r5_nested16_gates"].config
    )
    assert least.config == rows["lc_resnet20_t65_e10_r5_nested16"].config
    assert not any("min1" in n and "t65" not in n for n in rows)
    # Recipe 12: the same nested gates learn on the static body held
    # fixed, for 3 epochs; the body row trains the other 7.
    routed = rows["lc_resnet20_t65_e10_r12_nested16"]
    routed_gates = rows[routed.fix_gates_row].config
    assert not routed_gates.train_body and routed.config.train_body
    assert dataclasses.replace(routed_gates, train_body=True, epochs=6) == (
        rows["lc_resnet20_t65_e10_r5_nested16_gates"].config
    )
    assert routed.config == dataclasses.replace(
        rows["lc_resnet20_t65_e10_r5_nested16"].config, epochs=7
    )
    for tag in ("t50", "t30", "t69"):
        assert not rows[
            f"lc_resnet20_{tag}_e10_r12_nested16_gates"
        ].config.train_body
    assert rows["lc_resnet20_t65_e10_r12_nested16_s1"].fix_gates_row == (
        "lc_resnet20_t65_e10_r12_nested16_gates_s1"
    )
    for depth in (8, 14):
        kd = rows[f"resnet{depth}_static_e40_kd"]
        assert kd.teacher_row == "resnet20_static"
        assert kd.init_from_row is None


def test_tuned_rows_hold_the_body_for_their_last_epoch():
    rows = {row.name: row for row in cifar10_dynamic_rows()}
    # Recipe 13: recipe 12's gate row, 6 body epochs, then the gates
    # alone for one, with no budget term.
    r13 = rows["lc_resnet20_t65_e10_r13_nested16"]
    body = rows[r13.tune_gates_row]
    assert body.name == "lc_resnet20_t65_e10_r13_nested16_body"
    assert body.fix_gates_row == "lc_resnet20_t65_e10_r12_nested16_gates"
    assert body.config == dataclasses.replace(
        rows["lc_resnet20_t65_e10_r12_nested16"].config, epochs=6
    )
    assert (r13.config.epochs, r13.config.train_body) == (1, False)
    assert r13.config.budget_weight == 0.0
    assert not r13.config.gate_weight_decay
    assert r13.teacher_row == "resnet20_static"
    twin = rows["lc_resnet20_t65_e10_r12_nested16_frozen_train_scaled_r13"]
    assert twin.tune_gates_row == f"{twin.name}_body"
    assert twin.config == r13.config
    # Recipe 14: recipe 5's gate row, 3 body epochs (recipe 5's body
    # row less one), then the gates alone with the budget kept.
    for target in ("t30", "t50", "t65"):
        r14 = rows[f"lc_resnet20_{target}_e10_r14"]
        body = rows[r14.tune_gates_row]
        assert body.name == f"{r14.name}_body"
        assert body.fix_gates_row == f"lc_resnet20_{target}_e10_r5_gates"
        r5 = rows[f"lc_resnet20_{target}_e10_r5"]
        assert body.config == dataclasses.replace(r5.config, epochs=3)
        assert r14.config == dataclasses.replace(
            r13.config,
            budget_target=r5.config.budget_target,
            budget_weight=r5.config.budget_weight,
        )
        # Its own routing frozen, as the issue defines the frozen row.
        frozen = rows[f"{r14.name}_frozen_train"]
        assert frozen.freeze_row == r14.name
        assert frozen.config == dataclasses.replace(
            rows["lc_resnet20_t65_e10_r12_nested16_frozen_train"].config,
            budget_target=r5.config.budget_target,
        )
    assert rows["lc_resnet20_t30_e10_r14_s1"].tune_gates_row == (
        "lc_resnet20_t30_e10_r14_body_s1"
    )
    # Recipe 15: recipe 14 on recipe 10's gate rows, its body stage as
    # recipe 10's (bounds and batch-shaping kept), one epoch shorter.
    for target in ("t30", "t50", "t65"):
        r15 = rows[f"lc_resnet20_{target}_e10_r15_proj"]
        body = rows[r15.tune_gates_row]
        assert body.fix_gates_row == f"lc_resnet20_{target}_e10_r10_proj_gates"
        r10 = rows[f"lc_resnet20_{target}_e10_r10_proj"]
        assert body.config == dataclasses.replace(r10.config, epochs=3)
        assert r15.config == rows[f"lc_resnet20_{target}_e10_r14"].config
        assert rows[f"{r15.name}_frozen_train"].freeze_row == r15.name
        # Recipes 16 and 17: its gate stage on the same body, keeping
        # recipe 10's bounds and batch-shaping, or the default bounds
        # at the body's weight without batch-shaping.
        for tag, shaping, low, high in (
            ("r16_proj", body.config.shaping_weight, 0.2, 0.8),
            ("r17_proj", 0.0, 0.1, 0.9),
        ):
            retuned = rows[f"lc_resnet20_{target}_e10_{tag}"]
            assert retuned.tune_gates_row == body.name
            frozen = rows[f"{retuned.name}_frozen_train"]
            assert frozen.freeze_row == retuned.name
            assert retuned.config == dataclasses.replace(
                r15.config,
                bounds_weight=body.config.bounds_weight,
                shaping_weight=shaping,
                regularizer_anneal=body.config.regularizer_anneal,
                regularize_channel_gates=False,
                keep_rate_low=low,
                keep_rate_high=high,
            )


def test_recipe_18_trains_recipe_15s_body_near_its_threshold():
    rows = {row.name: row for row in cifar10_dynamic_rows()}
    r15 = rows["lc_resnet20_t65_e10_r15_proj"]
    r18 = rows["lc_resnet20_t65_e10_r18_proj"]
    body = rows[r18.tune_gates_row]
    assert body.name == "lc_resnet20_t65_e10_r18_proj_body"
    assert body.fix_gates_row == "lc_resnet20_t65_e10_r10_proj_gates"
    # Recipe 15's body stage, each step at a threshold in [0.4, 0.6].
    assert body.config == dataclasses.replace(
        rows[r15.tune_gates_row].config,
        threshold_jitter_low=0.4,
        threshold_jitter_high=0.6,
    )
    jitter = body.config.threshold_jitter()
    assert (jitter.low, jitter.high) == (0.4, 0.6)
    assert r18.config == r15.config
    assert r18.config.threshold_jitter() is None
    # At 0.65 only.
    assert not [name for name in rows if "t30_e10_r18" in name]


def test_single_gate_kinds_train_recipe_14_as_the_lc_rows_do():
    rows = {row.name: row for row in cifar10_dynamic_rows()}
    lc = rows["lc_resnet20_t50_e10_r14"]
    lc_body = rows[lc.tune_gates_row]
    lc_gates = rows[lc_body.fix_gates_row]
    for gating in ("l", "c", "aig"):
        tuned = rows[f"{gating}_resnet20_t50_e10_r14"]
        body = rows[tuned.tune_gates_row]
        gates = rows[body.fix_gates_row]
        assert gates.name == f"{gating}_resnet20_t50_e10_r5_gates"
        assert gates.init_from_row == lc_gates.init_from_row
        for row, twin in ((tuned, lc), (body, lc_body)):
            assert row.config == dataclasses.replace(twin.config, gating=gating)
        if gating == "aig":
            # Its own target-rate loss, not the gate regularizers.
            assert gates.config.bounds_weight == 0.0
            assert gates.config.noise_std == 0.0
            assert gates.config.budget_weight == lc_gates.config.budget_weight
        else:
            assert gates.config == dataclasses.replace(
                lc_gates.config, gating=gating
            )
        # The frozen row freezes an LC row's routing; none for these.
        assert f"{tuned.name}_frozen_train" not in rows


def test_recipe_override_reaches_the_gated_rows():
    rows = cifar10_dynamic_rows(recipe=dict(budget_weight=4.0))
    weights = {
        row.name: row.config.budget_weight
        for row in rows
        if row.name.endswith("_r3")
    }
    assert set(weights.values()) == {4.0}
    with pytest.raises(ValueError, match="noise_anneal"):
        cifar10_dynamic_rows(recipe=dict(noise_std=0.5, noise_anneal=2.0))


def test_nested_rows_differ_from_their_free_twins_only_in_selection():
    rows = {row.name: row for row in cifar10_dynamic_rows()}
    for gating in ("c", "lc"):
        free = rows[f"{gating}_resnet20_t50_e10_r3"].config
        nested = rows[f"{gating}_resnet20_t50_e10_r3_nested"].config
        assert nested.channel_selection == "nested"
        assert nested.channel_groups == 8
        assert free.channel_selection == "free"
        assert (
            dataclasses.replace(
                nested, channel_selection="free", channel_groups=1
            )
            == free
        )
    for gating in ("c", "lc"):
        lane = rows[f"{gating}_resnet20_t50_e10_r3_nested16"].config
        assert lane.channel_groups == 16
        assert dataclasses.replace(lane, channel_groups=8) == (
            rows[f"{gating}_resnet20_t50_e10_r3_nested"].config
        )
    # At 0.65 only the LC-Net gets a row with groups of 16.
    lane = rows["lc_resnet20_t65_e10_r3_nested16"].config
    assert (lane.budget_target, lane.channel_groups) == (0.65, 16)
    assert dataclasses.replace(
        lane, channel_selection="free", channel_groups=1
    ) == (rows["lc_resnet20_t65_e10_r3"].config)
    assert "c_resnet20_t65_e10_r3_nested16" not in rows


def test_seed_rows_copy_the_study_with_their_own_gate_rows():
    rows = {row.name: row for row in cifar10_dynamic_rows(seeds=(1, 2))}
    for seed in (1, 2):
        body = rows[f"lc_resnet20_t30_e10_r5_s{seed}"]
        original = rows["lc_resnet20_t30_e10_r5"]
        assert body.config.seed == seed
        assert body.fix_gates_row == f"lc_resnet20_t30_e10_r5_gates_s{seed}"
        # Same teacher; the rest of the config is the seed-0 row's.
        assert body.teacher_row == original.teacher_row == "resnet20_static"
        assert dataclasses.replace(body.config, seed=0) == original.config
        gates = rows[f"lc_resnet20_t30_e10_r5_gates_s{seed}"]
        assert gates.init_from_row == "resnet20_static"
        assert rows[f"resnet8_static_e40_kd_s{seed}"].config.seed == seed
        # The comparison at 0.65: recipe 5 against the plain ResNet-14.
        body = rows[f"lc_resnet20_t65_e10_r5_s{seed}"]
        assert body.fix_gates_row == f"lc_resnet20_t65_e10_r5_gates_s{seed}"
        assert dataclasses.replace(body.config, seed=0) == (
            rows["lc_resnet20_t65_e10_r5"].config
        )
        static = rows[f"resnet14_static_e40_s{seed}"].config
        assert dataclasses.replace(static, seed=0) == (
            rows["resnet14_static_e40"].config
        )
        jitter = rows[f"lc_resnet20_t65_e10_r9_s{seed}"]
        assert jitter.fix_gates_row == f"lc_resnet20_t65_e10_r5_gates_s{seed}"
        lane = rows[f"lc_resnet20_t65_e10_r5_nested16_s{seed}"]
        assert lane.fix_gates_row == (
            f"lc_resnet20_t65_e10_r5_nested16_gates_s{seed}"
        )
        lane_gates = rows[lane.fix_gates_row].config
        assert (lane_gates.seed, lane_gates.channel_groups) == (seed, 16)
        least = rows[f"lc_resnet20_t65_e10_r5_nested16_min1_s{seed}"]
        assert least.fix_gates_row == (
            f"lc_resnet20_t65_e10_r5_nested16_min1_gates_s{seed}"
        )
        assert rows[least.fix_gates_row].config.channel_min_groups == 1
        # The frozen row's seeds train the same routing.
        frozen = rows[f"lc_resnet20_t65_e10_r3_frozen_s{seed}"]
        assert frozen.freeze_row == "lc_resnet20_t65_e10_r3"
        assert frozen.init_from_row == "resnet20_static"
        assert frozen.config.seed == seed
        # So do recipe 12's, with constant and with learned scales.
        for kind in ("", "_scaled"):
            twin = rows[
                f"lc_resnet20_t65_e10_r12_nested16_frozen_train{kind}_s{seed}"
            ]
            assert twin.freeze_row == "lc_resnet20_t65_e10_r12_nested16"
            assert twin.config.seed == seed
    assert "resnet14_static_e40_kd_s1" not in rows
    # At 0.5 only recipe 14's rows have seed copies.
    assert {
        name for name in rows if "t50" in name and name.endswith("_s1")
    } == {
        "lc_resnet20_t50_e10_r5_gates_s1",
        "lc_resnet20_t50_e10_r14_body_s1",
        "lc_resnet20_t50_e10_r14_s1",
    }
    assert rows["lc_resnet20_t50_e10_r14_s1"].tune_gates_row == (
        "lc_resnet20_t50_e10_r14_body_s1"
    )
    assert not any(
        row.name.endswith("_s1") for row in cifar10_dynamic_rows(seeds=())
    )


def test_seed_rows_refuse_the_rows_own_seed():
    with pytest.raises(ValueError, match="Seed 0 is row"):
        cifar10_dynamic_rows(seeds=(0,))
