from lcnet_tf.training.recipe_rows import distilled_row
from lcnet_tf.training.recipe_rows import fixed_gates_rows
from lcnet_tf.training.recipe_rows import frozen_row
from lcnet_tf.training.recipe_rows import target_tag
from lcnet_tf.training.recipes import DISTILL_RECIPE
from lcnet_tf.training.recipes import GATE_EPOCHS

FINETUNE = dict(depth=20, epochs=10, learning_rate=0.02, batch_size=8)


def test_target_tag_names_the_percent():
    assert [target_tag(t) for t in (0.3, 0.5, 0.65, 0.05)] == [
        "t30",
        "t50",
        "t65",
        "t05",
    ]


def test_distilled_row_starts_from_and_learns_from_the_static_row():
    row = distilled_row(
        "lc_x", "lc", 0.4, dict(noise_std=0.5), FINETUNE, "static"
    )
    assert (row.init_from_row, row.teacher_row) == ("static", "static")
    assert row.config.budget_target == 0.4
    assert row.config.noise_std == 0.5
    assert row.config.distill_weight == DISTILL_RECIPE["distill_weight"]


def test_frozen_row_names_its_split_and_distills_only_from_static():
    test_split = frozen_row("src", 0.5, FINETUNE, "static")
    train_split = frozen_row("src", 0.5, FINETUNE, "static", split="train")
    assert (test_split.name, train_split.name) == (
        "src_frozen",
        "src_frozen_train",
    )
    assert train_split.config.freeze_routing_split == "train"
    scaled = frozen_row("src", 0.5, FINETUNE, split="train", scales="learned")
    assert scaled.name == "src_frozen_train_scaled"
    assert scaled.config.freeze_routing_scales == "learned"
    assert train_split.config.freeze_routing_scales == "constant"
    assert test_split.freeze_row == "src"
    assert test_split.config.budget_weight == 0.0
    # Without a static row the pruned network starts from the gated
    # row's weights and learns from the labels alone (no teacher).
    own = frozen_row("src", 0.5, FINETUNE)
    assert own.init_from_row is None and own.teacher_row is None


def test_fixed_gates_rows_split_the_epochs_between_gates_and_body():
    gates, body = fixed_gates_rows(0.65, FINETUNE, "e10", "static")
    assert gates.name == "lc_resnet20_t65_e10_r5_gates"
    assert body.fix_gates_row == gates.name
    assert gates.config.epochs + body.config.epochs == FINETUNE["epochs"]
    assert gates.config.epochs == GATE_EPOCHS
    # The body row's gates no longer learn: no exploration noise.
    assert body.config.noise_std == 0.0
    # Too few epochs to leave the body any: no rows.
    short = dict(FINETUNE, epochs=GATE_EPOCHS)
    assert fixed_gates_rows(0.65, short, "e6", "static") == []
