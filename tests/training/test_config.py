import pytest

from lcnet_tf.training import TrainConfig
from lcnet_tf.training.model_builder import build_model


@pytest.mark.parametrize(
    "field, value, match",
    [
        ("gating", "x", "gating"),
        ("scale", "x", "scale"),
        ("tau", 1.5, "tau"),
        ("budget_target", 0.0, "target"),
        ("budget_weight", -1.0, "weight"),
        ("schedule", "linear", "schedule"),
        ("epochs", 0, "epochs"),
        ("train_examples", 0, "train_examples"),
        ("dataset", "mnist", "dataset"),
        ("learning_rate", 0.0, "learning_rate"),
        ("depth", 21, "depth=21"),
        ("dtype_policy", "float16", "mixed_float16"),
        ("recalibrate_batches", -1, "recalibrate_batches"),
        ("budget_anneal", 1.5, "budget_anneal"),
        ("keep_rate_high", 0.05, "keep_rate_low.*low < high"),
        ("shaping_alpha", 0.0, "shaping_alpha.*alpha"),
        ("regularizer_anneal", 0.0, "regularizer_anneal.*anneal"),
        ("bounds_weight", -1.0, "bounds_weight"),
        ("noise_anneal", 0.5, "noise_anneal.*noise_std"),
    ],
)
def test_bad_fields(field, value, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**{field: value})


@pytest.mark.parametrize("gating", ["none", "c"])
def test_gated_projection_blocks_need_block_gates(gating):
    with pytest.raises(ValueError, match="gate_projection_blocks.*'l', 'lc'"):
        TrainConfig(gating=gating, gate_projection_blocks=True)
    assert TrainConfig(gating="aig", gate_projection_blocks=True)


def test_channel_min_groups_need_nested_channel_gates():
    with pytest.raises(ValueError, match="channel_min_groups.*>= 0"):
        TrainConfig(channel_min_groups=-1)
    with pytest.raises(ValueError, match="channel_min_groups.*'free'"):
        TrainConfig(channel_min_groups=1)
    config = TrainConfig(
        gating="c",
        channel_groups=4,
        channel_selection="nested",
        channel_min_groups=1,
        depth=8,
    )
    model = build_model(config)
    gate = model.get_layer("stage3_block1").channel_gate
    assert (gate.min_groups, gate.groups) == (1, 4)


def test_json_round_trip(tmp_path):
    config = TrainConfig(depth=32, gating="l", data_dir="x")
    config.to_json(tmp_path / "c.json")
    assert TrainConfig.from_json(tmp_path / "c.json") == config


def test_gate_regularizer_from_fields():
    assert TrainConfig().gate_regularizer() is None
    config = TrainConfig(bounds_weight=2.0, keep_rate_low=0.2)
    regularizer = config.gate_regularizer()
    assert (regularizer.low, regularizer.bounds_weight) == (0.2, 2.0)
    assert regularizer.shaping_weight == 0.0


@pytest.mark.parametrize("gating", ["aig", "none"])
def test_regularizer_needs_l_or_c_gates(gating):
    with pytest.raises(ValueError, match=f"gating.*{gating}|{gating}"):
        TrainConfig(gating=gating, shaping_weight=1.0)


def test_noise_anneal_makes_a_schedule_and_needs_gates():
    config = TrainConfig(noise_std=0.5, noise_anneal=0.8)
    assert config.gate_regularizer().noise_anneal == 0.8
    with pytest.raises(ValueError, match="noise_anneal.*aig"):
        TrainConfig(gating="aig", noise_std=0.5, noise_anneal=0.8)


def test_frozen_routing_may_start_from_static_weights():
    config = TrainConfig(freeze_routing_from="lc.keras", init_from="s.keras")
    assert config.init_from == "s.keras"
    with pytest.raises(ValueError, match="freeze_routing_from"):
        TrainConfig(freeze_routing_from="lc.keras", bounds_weight=1.0)
    with pytest.raises(ValueError, match="`freeze_routing_split` must be"):
        TrainConfig(freeze_routing_from="lc.keras", freeze_routing_split="val")
    with pytest.raises(ValueError, match="`freeze_routing_scales` must be"):
        TrainConfig(freeze_routing_from="lc.keras", freeze_routing_scales="x")
    assert TrainConfig(
        freeze_routing_from="lc.keras", freeze_routing_scales="learned"
    ).freeze_routing_scales == ("learned")
    with pytest.raises(ValueError, match="over CIFAR-10 images.*imagenet"):
        TrainConfig(
            freeze_routing_from="lc.keras", dataset="imagenet2012", depth=18
        )


def test_fixed_gates_exclude_what_trains_gates():
    assert TrainConfig(fix_gates_from="lc.keras").fix_gates_from
    for fields in (
        dict(noise_std=0.5),
        dict(init_from="s.keras"),
        dict(noise_anneal=0.5),
        dict(budget_anneal=0.3),
        dict(freeze_routing_from="lc.keras"),
    ):
        name = next(iter(fields))
        with pytest.raises(ValueError, match=f"fix_gates_from.*{name}"):
            TrainConfig(fix_gates_from="lc.keras", **fields)
    with pytest.raises(ValueError, match="gating='none'"):
        TrainConfig(fix_gates_from="lc.keras", gating="none")
    # Bounds and batch-shaping may stay on the fixed gates.
    config = TrainConfig(
        fix_gates_from="lc.keras", bounds_weight=1.0, shaping_weight=1.0
    )
    assert config.gate_regularizer().bounds_weight == 1.0


def test_training_the_gates_alone_needs_gates_that_learn():
    assert not TrainConfig(train_body=False, init_from="s.keras").train_body
    for fields in (
        dict(fix_gates_from="lc.keras"),
        dict(freeze_routing_from="lc.keras"),
    ):
        name = next(iter(fields))
        with pytest.raises(ValueError, match=f"train_body=False.*{name}"):
            TrainConfig(train_body=False, **fields)
    with pytest.raises(ValueError, match="train_body=False.*gating='none'"):
        TrainConfig(train_body=False, gating="none")


def test_released_routing_excludes_other_starts_and_fixed_gates():
    config = TrainConfig(
        release_routing_from="frozen.keras", noise_std=0.5, bounds_weight=1.0
    )
    assert config.gate_regularizer().bounds_weight == 1.0
    for fields in (
        dict(init_from="s.keras"),
        dict(freeze_routing_from="lc.keras"),
        dict(fix_gates_from="lc.keras"),
        dict(threshold_jitter_low=0.1, threshold_jitter_high=0.5),
    ):
        name = next(iter(fields))
        with pytest.raises(ValueError, match=f"release_routing_from.*{name}"):
            TrainConfig(release_routing_from="frozen.keras", **fields)
    for gating in ("none", "aig"):
        with pytest.raises(ValueError, match=f"gating='{gating}'"):
            TrainConfig(release_routing_from="frozen.keras", gating=gating)


@pytest.mark.parametrize(
    "fields, match",
    [
        (dict(threshold_jitter_low=0.1), "come together"),
        (
            dict(
                gating="none",
                threshold_jitter_low=0.1,
                threshold_jitter_high=0.5,
            ),
            "come together",
        ),
        (
            dict(threshold_jitter_low=0.6, threshold_jitter_high=0.5),
            "must not exceed",
        ),
        (dict(threshold_jitter_low=-1.0, threshold_jitter_high=0.5), "tau"),
    ],
)
def test_threshold_jitter_fields_are_checked(fields, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**fields)


def test_threshold_jitter_fields_make_the_callback():
    assert TrainConfig().threshold_jitter() is None
    jitter = TrainConfig(
        threshold_jitter_low=0.05, threshold_jitter_high=0.5, seed=3
    ).threshold_jitter()
    assert (jitter.low, jitter.high, jitter.seed) == (0.05, 0.5, 3)
