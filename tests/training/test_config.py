import pytest

from lcnet_tf.training import TrainConfig


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
    ],
)
def test_bad_fields(field, value, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**{field: value})


def test_json_round_trip(tmp_path):
    config = TrainConfig(depth=32, gating="l", data_dir="x")
    config.to_json(tmp_path / "c.json")
    assert TrainConfig.from_json(tmp_path / "c.json") == config
