import csv
import dataclasses
import os
import shutil

import keras
import numpy as np
import pytest

from lcnet_tf.data.cifar10 import cifar10_arrays
from lcnet_tf.flops import flops_per_image
from lcnet_tf.flops import gated_blocks
from lcnet_tf.models import load_model
from lcnet_tf.models.static_init import init_from_static
from lcnet_tf.training import TrainConfig
from lcnet_tf.training import model_builder
from lcnet_tf.training import train
from lcnet_tf.training.body_training import body_layers
from lcnet_tf.training.frozen_routing import most_frequent_routing
from lcnet_tf.training.gate_decisions import gate_decisions
from lcnet_tf.training.model_builder import build_model
from lcnet_tf.training.trainer import build_schedule
from tests.fixtures import interrupt_at_epoch
from tests.fixtures import tiny_train_config

# Frozen routings counted over this many training images instead of
# 10,000: each count is a pass of the source model over them.
FEW_ROUTING_IMAGES = 512


@pytest.fixture
def few_routing_images(monkeypatch):
    monkeypatch.setattr(model_builder, "ROUTING_IMAGES", FEW_ROUTING_IMAGES)
    return FEW_ROUTING_IMAGES


def test_train_writes_artifacts_and_resumes(tmp_path, cifar10_dir):
    config = tiny_train_config(tmp_path, cifar10_dir)
    with pytest.raises(KeyboardInterrupt):
        train(config, callbacks=[interrupt_at_epoch(1)])
    run = config.model_dir
    assert os.path.isfile(f"{run}/checkpoints/last.keras")
    assert not os.path.exists(f"{run}/model.keras")
    model, history = train(config)
    # Epochs 0 and 1 were done before the interruption: only 2 remains.
    assert history.epoch == [2]
    with open(f"{run}/history.csv") as f:
        assert [row["epoch"] for row in csv.DictReader(f)] == ["0", "1", "2"]
    assert "val_flops_ratio" in history.history
    loaded = load_model(f"{run}/model.keras")
    x = np.zeros((2, 32, 32, 3), "float32")
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5
    )
    assert os.listdir(f"{run}/logs")


def test_refuses_a_model_dir_of_another_model(tmp_path, cifar10_dir):
    train(tiny_train_config(tmp_path, cifar10_dir, epochs=1))
    with pytest.raises(ValueError, match="different model"):
        train(tiny_train_config(tmp_path, cifar10_dir, epochs=1, depth=14))


def test_missing_data_dir_fails_before_writing(tmp_path):
    config = tiny_train_config(tmp_path, str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        train(config)
    assert not os.path.exists(config.model_dir)


@pytest.mark.parametrize("schedule", ["cosine", "step"])
def test_schedules(schedule):
    config = TrainConfig(
        epochs=4, learning_rate=0.2, schedule=schedule, warmup_epochs=1
    )
    lr = build_schedule(config, steps=10)
    rates = [float(lr(step)) for step in (0, 10, 25, 39)]
    assert rates[1] == pytest.approx(0.2, rel=1e-3)
    assert rates[3] < rates[2] <= rates[1]


def test_gate_recipe_options_reach_the_run(tmp_path, cifar10_dir):
    config = tiny_train_config(
        tmp_path,
        cifar10_dir,
        epochs=2,
        budget_target=0.4,
        budget_anneal=0.5,
        bounds_weight=1.0,
        gate_weight_decay=False,
        recalibrate_batches=2,
    )
    model, history = train(config)
    gate = model.get_layer("stage1_block1").block_gate
    assert gate.regularizer.bounds_weight == 1.0
    # The schedule ran to its end: final target and bounds.
    assert model.get_layer("flops_budget").target == pytest.approx(0.4)
    # Set before each of the 4 steps: 3/4 before the last one.
    assert float(gate.progress.numpy()) == pytest.approx(0.75)
    optimizer = model.optimizer
    assert not optimizer._use_weight_decay(gate.hidden.kernel)
    assert optimizer._use_weight_decay(model.get_layer("stem_conv").kernel)
    loaded = load_model(f"{config.model_dir}/model.keras")
    assert loaded.get_layer("stage1_block1").block_gate.regularizer


def test_threshold_jitter_reaches_the_run(tmp_path, cifar10_dir):
    # Trained at threshold 0 (every gate open), validated and saved at the
    # model's own 1.0 (every skippable block shut).
    config = tiny_train_config(
        tmp_path,
        cifar10_dir,
        epochs=1,
        tau=1.0,
        budget_weight=0.0,
        threshold_jitter_low=0.0,
        threshold_jitter_high=0.0,
    )
    model, history = train(config)
    assert history.history["flops_ratio"][-1] > 1.0
    assert history.history["val_flops_ratio"][-1] < 0.8
    loaded = load_model(f"{config.model_dir}/model.keras")
    assert loaded.get_layer("stage1_block1").block_gate.tau == 1.0


def test_mixed_precision_run(tmp_path, cifar10_dir):
    import keras

    config = tiny_train_config(
        tmp_path, cifar10_dir, epochs=1, dtype_policy="mixed_bfloat16"
    )
    model, history = train(config)
    assert model.get_layer("stem_conv").compute_dtype == "bfloat16"
    assert keras.config.dtype_policy().name == "float32"
    assert 0 < history.history["val_flops_ratio"][-1] <= 1.01


def _corrupt(path):
    with open(path, "r+b") as f:
        f.seek(0)
        f.write(b"not hdf5" * 16)


def test_a_corrupt_resume_state_falls_back_or_says_how_to_restart(
    tmp_path, cifar10_dir
):
    config = tiny_train_config(tmp_path, cifar10_dir)
    with pytest.raises(KeyboardInterrupt):
        train(config, callbacks=[interrupt_at_epoch(1)])
    backup = os.path.join(config.model_dir, "backup")
    newest = os.path.join(backup, "epoch-0002.weights.h5")
    # The state written last is unreadable: the previous epoch's is used,
    # so only the epochs after it run again.
    _corrupt(newest)
    with pytest.raises(KeyboardInterrupt):
        train(config, callbacks=[interrupt_at_epoch(1)])
    # Both states unreadable: a clear error naming the folder.
    for name in os.listdir(backup):
        if name.endswith(".weights.h5"):
            _corrupt(os.path.join(backup, name))
    with pytest.raises(RuntimeError, match="Delete '.*backup'"):
        train(config)
    # Following the advice restarts the run.
    shutil.rmtree(backup)
    _, history = train(config)
    assert history.epoch == [0, 1, 2]


class _State(keras.callbacks.Callback):
    """Snapshots weights and optimizer state at chosen moments."""

    def __init__(self, after_epoch=None, kill_at_batch=None):
        super().__init__()
        self.after_epoch = after_epoch
        self.kill_at_batch = kill_at_batch
        self.snapshot = None
        self._epoch = None

    def _take(self):
        self.snapshot = (
            [np.array(w) for w in self.model.get_weights()],
            [np.array(v) for v in self.model.optimizer.variables],
        )

    def on_train_begin(self, logs=None):
        if self.after_epoch is None:
            self._take()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.after_epoch:
            self._take()

    def on_train_batch_end(self, batch, logs=None):
        if self.kill_at_batch == (self._epoch, batch):
            raise KeyboardInterrupt("killed mid-epoch")


def test_a_kill_mid_epoch_resumes_from_the_last_finished_epoch(
    tmp_path, cifar10_dir
):
    # What a resumed run replays: the state at the end of the last
    # finished epoch is restored exactly (weights, batch-norm statistics,
    # optimizer step and momenta); the interrupted epoch runs again from
    # its first step. History keeps every finished epoch once.
    config = tiny_train_config(tmp_path, cifar10_dir, noise_std=0.5)
    first = _State(after_epoch=0, kill_at_batch=(1, 0))
    with pytest.raises(KeyboardInterrupt, match="mid-epoch"):
        train(config, callbacks=[first])
    resumed = _State()
    _, history = train(config, callbacks=[resumed])
    weights, optimizer = first.snapshot
    restored_weights, restored_optimizer = resumed.snapshot
    assert len(restored_weights) == len(weights)
    for a, b in zip(weights, restored_weights):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(optimizer, restored_optimizer):
        np.testing.assert_array_equal(a, b)
    steps = config.train_examples // config.batch_size
    assert int(restored_optimizer[0]) == steps  # the step counter
    assert history.epoch == [1, 2]
    with open(os.path.join(config.model_dir, "history.csv")) as f:
        assert [r["epoch"] for r in csv.DictReader(f)] == ["0", "1", "2"]


def _history(run):
    with open(os.path.join(run, "history.csv")) as f:
        return list(csv.DictReader(f))


def test_a_killed_and_resumed_run_ends_as_the_uninterrupted_one(
    tmp_path, cifar10_dir
):
    # Same seed, exploration noise on: killed mid-epoch (and again at an
    # epoch's end) and resumed, the run ends with the weights, optimizer
    # state and history of a run never stopped. The data skips the
    # batches of the finished epochs; the noise's seed state is restored.
    fields = dict(noise_std=0.5, train_examples=96, epochs=4)
    whole = tiny_train_config(
        tmp_path, cifar10_dir, model_dir=str(tmp_path / "whole"), **fields
    )
    expected = _State(after_epoch=3)
    train(whole, callbacks=[expected])
    config = tiny_train_config(tmp_path, cifar10_dir, **fields)
    with pytest.raises(KeyboardInterrupt, match="mid-epoch"):
        train(config, callbacks=[_State(kill_at_batch=(1, 1))])
    with pytest.raises(KeyboardInterrupt):
        train(config, callbacks=[interrupt_at_epoch(2)])
    resumed = _State(after_epoch=3)
    train(config, callbacks=[resumed])
    for a, b in zip(expected.snapshot[0], resumed.snapshot[0]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for a, b in zip(expected.snapshot[1], resumed.snapshot[1]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    rows, whole_rows = _history(config.model_dir), _history(whole.model_dir)
    assert [r["epoch"] for r in rows] == ["0", "1", "2", "3"]
    for row, other in zip(rows, whole_rows):
        for key in ("loss", "accuracy", "val_loss", "val_flops_ratio"):
            assert float(row[key]) == pytest.approx(float(other[key]), 1e-5)


@pytest.fixture(scope="module")
def trained_lc(tmp_path_factory, cifar10_dir):
    """A tiny noisy LC model trained one epoch, shared by this module's
    tests (which train from it into their own folders); its file.

    Channel groups, and a regularizer (whose progress released gates'
    bounds need), as the table's LC rows have.
    """
    folder = tmp_path_factory.mktemp("trained_lc")
    source = tiny_train_config(
        folder,
        cifar10_dir,
        epochs=1,
        noise_std=0.5,
        channel_groups=4,
        bounds_weight=1.0,
    )
    train(source)
    return os.path.join(source.model_dir, "model.keras")


def test_a_run_with_fixed_gates_trains_the_body_only(
    tmp_path, cifar10_dir, trained_lc
):
    path = trained_lc
    fixed = tiny_train_config(
        tmp_path,
        cifar10_dir,
        epochs=2,
        fix_gates_from=path,
        distill_from=path,
        budget_weight=0.0,
        model_dir=str(tmp_path / "fixed"),
    )
    model, history = train(fixed)
    before = load_model(path)
    gates = [g for b in model.layers if hasattr(b, "gates") for g in b.gates]
    assert gates
    for gate in gates:
        old = before.get_layer(gate.path.split("/")[0])
        old_gate = next(g for g in old.gates if g.name == gate.name)
        for a, b in zip(old_gate.weights, gate.weights):
            np.testing.assert_array_equal(np.array(a), np.array(b))
    changed = [
        not np.array_equal(np.array(a), np.array(b))
        for a, b in zip(
            before.get_layer("stem_conv").weights,
            model.get_layer("stem_conv").weights,
        )
    ]
    assert any(changed)
    assert len(history.history["val_flops_ratio"]) == 2
    # The saved model is a plain gated model that loads and runs.
    saved = load_model(os.path.join(fixed.model_dir, "model.keras"))
    x = np.zeros((2, 32, 32, 3), "float32")
    np.testing.assert_allclose(
        saved.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5
    )


@pytest.fixture(scope="module")
def trained_static(tmp_path_factory, cifar10_dir):
    """A tiny static ResNet-8 trained one epoch, shared; its file."""
    folder = tmp_path_factory.mktemp("trained_static")
    static = tiny_train_config(
        folder,
        cifar10_dir,
        epochs=1,
        gating="none",
        model_dir=str(folder / "static"),
    )
    train(static)
    return os.path.join(static.model_dir, "model.keras")


def _body_weights(model):
    return [np.array(w) for layer in body_layers(model) for w in layer.weights]


def test_a_gates_only_run_holds_the_body_and_a_body_row_trains_it(
    tmp_path, cifar10_dir, trained_static
):
    static_path = trained_static
    gates_only = tiny_train_config(
        tmp_path,
        cifar10_dir,
        epochs=2,
        init_from=static_path,
        distill_from=static_path,
        noise_std=0.5,
        channel_groups=4,
        channel_selection="nested",
        train_body=False,
        learning_rate=0.5,
        model_dir=str(tmp_path / "gates"),
    )
    model, _ = train(gates_only)
    start = init_from_static(
        build_model(
            dataclasses.replace(gates_only, train_body=True, init_from=None)
        ),
        static_path,
    )
    # Every body weight, batch-norm statistics included, is the static
    # network's; the gates learned.
    for old, new in zip(_body_weights(start), _body_weights(model)):
        np.testing.assert_array_equal(old, new)
    gates = [g for b in model.layers if hasattr(b, "gates") for g in b.gates]
    fresh = [g for b in start.layers if hasattr(b, "gates") for g in b.gates]
    assert any(
        not np.array_equal(np.array(a), np.array(b))
        for gate, other in zip(gates, fresh)
        for a, b in zip(gate.weights, other.weights)
    )
    # The body row made from it trains the body that was held.
    path = os.path.join(gates_only.model_dir, "model.keras")
    body = tiny_train_config(
        tmp_path,
        cifar10_dir,
        epochs=1,
        fix_gates_from=path,
        model_dir=str(tmp_path / "body"),
    )
    trained, _ = train(body)
    assert all(layer.trainable for layer in body_layers(trained))
    assert any(
        not np.array_equal(old, new)
        for old, new in zip(_body_weights(model), _body_weights(trained))
    )


def test_fixed_gates_keep_the_rows_bounds_and_shaping(
    tmp_path, cifar10_dir, trained_lc
):
    path = trained_lc
    fixed = tiny_train_config(
        tmp_path,
        cifar10_dir,
        epochs=1,
        fix_gates_from=path,
        bounds_weight=7.0,
        shaping_weight=3.0,
        regularize_channel_gates=False,
        model_dir=str(tmp_path / "fixed"),
    )
    model, _ = train(fixed)
    gates = [g for b in model.layers if hasattr(b, "gates") for g in b.gates]
    assert gates and not any(g.trainable for g in gates)
    for gate in gates:
        assert gate.regularizer.bounds_weight == 7.0
        assert gate.regularizer.shaping_weight == 3.0
        assert not gate.regularizer.channel_gates


def test_a_frozen_routing_run_trains_one_routing(
    tmp_path, cifar10_dir, few_routing_images, trained_lc, trained_static
):
    path = trained_lc
    frozen = tiny_train_config(
        tmp_path,
        cifar10_dir,
        epochs=1,
        freeze_routing_from=path,
        budget_weight=0.0,
        model_dir=str(tmp_path / "frozen"),
    )
    model, history = train(frozen)
    # Every image costs the same: one routing, whatever the image.
    assert history.history["val_flops_ratio"][-1] > 0
    images = np.random.default_rng(0).normal(size=(16, 32, 32, 3))
    assert len(set(flops_per_image(model, images.astype("float32")))) == 1
    # The routing is the source's most frequent one over the first
    # training images by default, over the test images on request.
    source = load_model(path)
    for split, built in (
        ("train", model),
        (
            "test",
            build_model(
                dataclasses.replace(frozen, freeze_routing_split="test")
            ),
        ),
    ):
        counted, _ = cifar10_arrays(
            split, cifar10_dir, num_examples=few_routing_images
        )
        expected, _ = most_frequent_routing(source, counted)
        taken = gate_decisions(built, images[:2].astype("float32"))
        for name, decision in taken.items():
            assert (decision["run"] == expected[name]["run"]).all()
            assert (decision["channels"] == expected[name]["channels"]).all()
    # With learned scales the same routing is built, and only the gates'
    # keep layers stay fixed.
    scaled = build_model(
        dataclasses.replace(frozen, freeze_routing_scales="learned")
    )
    trainable = {w.path for w in scaled.trainable_weights}
    gates = [g for b in gated_blocks(scaled) for g in b.gates]
    for gate in gates:
        assert gate.scale_logits.kernel.path in trainable
        assert gate.keep_logits.kernel.path not in trainable
    taken = gate_decisions(scaled, images[:2].astype("float32"))
    for name, decision in taken.items():
        np.testing.assert_array_equal(
            decision["run"],
            gate_decisions(model, images[:2].astype("float32"))[name]["run"],
        )
    static_path = trained_static
    for field in ("freeze_routing_from", "fix_gates_from"):
        config = tiny_train_config(
            tmp_path,
            cifar10_dir,
            epochs=1,
            model_dir=str(tmp_path / field),
            **{field: static_path},
        )
        with pytest.raises(ValueError, match=f"`{field}` must be a gated"):
            train(config)


def test_a_released_routing_run_routes_per_image_again(
    tmp_path, cifar10_dir, few_routing_images, trained_lc
):
    # Prune, then route: a frozen routing's run, then its gates released.
    frozen = tiny_train_config(
        tmp_path,
        cifar10_dir,
        epochs=1,
        freeze_routing_from=trained_lc,
        budget_weight=0.0,
        model_dir=str(tmp_path / "frozen"),
    )
    train(frozen)
    path = os.path.join(frozen.model_dir, "model.keras")
    released = tiny_train_config(
        tmp_path,
        cifar10_dir,
        epochs=1,
        release_routing_from=path,
        noise_std=0.5,
        bounds_weight=5.0,
        keep_rate_low=0.0,
        keep_rate_high=0.9,
        budget_target=0.3,
        model_dir=str(tmp_path / "released"),
    )
    model, history = train(released)
    before = load_model(path)
    kernels = [
        g.keep_logits.kernel
        for b in before.layers
        if hasattr(b, "gates")
        for g in b.gates
    ]
    gates = [g for b in model.layers if hasattr(b, "gates") for g in b.gates]
    assert gates and all(g.trainable for g in gates)
    assert all(g.regularizer.high == 0.9 for g in gates)
    # The frozen gates' keep kernels are zero; the released ones learned.
    assert not any(np.array(k).any() for k in kernels)
    assert any(np.array(g.keep_logits.kernel).any() for g in gates)
    assert len(history.history["val_flops_ratio"]) == 1
    saved = load_model(os.path.join(released.model_dir, "model.keras"))
    x = np.zeros((2, 32, 32, 3), "float32")
    np.testing.assert_allclose(
        saved.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5
    )


def test_a_gate_tuning_run_holds_the_body_and_trains_the_gates(
    tmp_path, cifar10_dir, trained_lc
):
    # Recipe 13's last epoch: batch-norm recalibration stays on, as in
    # every row, and must not move the held body's statistics either.
    config = tiny_train_config(
        tmp_path,
        cifar10_dir,
        epochs=1,
        tune_gates_from=trained_lc,
        train_body=False,
        budget_weight=0.0,
        gate_weight_decay=False,
        model_dir=str(tmp_path / "tuned"),
    )
    assert config.recalibrate_batches > 0
    model, _ = train(config)
    before = load_model(trained_lc)
    for old, new in zip(_body_weights(before), _body_weights(model)):
        np.testing.assert_array_equal(old, new)
    gates = [g for b in model.layers if hasattr(b, "gates") for g in b.gates]
    old_gates = [
        g for b in before.layers if hasattr(b, "gates") for g in b.gates
    ]
    assert any(
        not np.array_equal(np.array(a.hidden.kernel), np.array(b.hidden.kernel))
        for a, b in zip(old_gates, gates)
    )
