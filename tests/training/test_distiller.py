import keras
import numpy as np
import pytest

from lcnet_tf.models import cifar_resnet
from lcnet_tf.models import init_from_static
from lcnet_tf.models import load_model
from lcnet_tf.training import TrainConfig
from lcnet_tf.training import train
from lcnet_tf.training.distiller import GatedDistiller
from tests.fixtures import interrupt_at_epoch
from tests.fixtures import random_images
from tests.fixtures import randomize_gates
from tests.fixtures import tiny_train_config

CE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _pair(budget_weight=4.0):
    teacher = cifar_resnet(8, gating="none")
    student = cifar_resnet(
        8, gating="lc", budget_target=0.3, budget_weight=budget_weight
    )
    randomize_gates(student, seed=1)
    return teacher, student


def test_loss_is_labels_plus_distillation_plus_budget():
    teacher, student = _pair()
    distiller = GatedDistiller(
        teacher, student, temperature=2.0, distillation_weight=0.25
    )
    distiller.compile("sgd", CE)
    x = random_images(8)
    y = np.arange(8) % 10
    loss = float(distiller.compute_loss(x=x, y=y, training=True))
    logits = student(x, training=True)
    budget = float(sum(student.losses))
    assert budget > 0
    teacher_probs = keras.ops.softmax(teacher(x, training=False) / 2.0)
    student_probs = keras.ops.softmax(logits / 2.0)
    kd = float(
        keras.ops.mean(
            keras.losses.KLDivergence()(teacher_probs, student_probs)
        )
        * 4.0
    )
    expected = 0.75 * float(CE(y, logits)) + 0.25 * kd + budget
    assert loss == pytest.approx(expected, rel=1e-4)


def test_fit_logs_gate_metrics_and_moves_flops(tmp_path):
    teacher, student = _pair(budget_weight=16.0)
    distiller = GatedDistiller(teacher, student)
    distiller.compile(keras.optimizers.SGD(0.05), CE)
    x = random_images(32, seed=2)
    y = np.arange(32) % 10
    history = distiller.fit(x, y, batch_size=16, epochs=3, verbose=0)
    logs = history.history
    for key in ("flops_ratio", "keep_stage1_block1", "distillation_loss"):
        assert key in logs, sorted(logs)
    # The budget loss reaches the gates through the distiller.
    assert logs["flops_ratio"][-1] < logs["flops_ratio"][0]
    path = str(tmp_path / "distiller.keras")
    distiller.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, GatedDistiller)
    assert restored.distillation_weight == 0.5
    np.testing.assert_allclose(
        restored.student(x[:4]), student(x[:4]), atol=1e-5
    )


def test_bad_arguments_are_named():
    teacher, student = _pair()
    with pytest.raises(ValueError, match="temperature"):
        GatedDistiller(teacher, student, temperature=0.0)
    with pytest.raises(ValueError, match="distillation_weight"):
        GatedDistiller(teacher, student, distillation_weight=1.5)
    with pytest.raises(ValueError, match="distill_weight"):
        TrainConfig(distill_weight=-0.1)
    with pytest.raises(ValueError, match="distill_temperature"):
        TrainConfig(distill_temperature=0.0)


def test_train_distils_and_saves_the_student(tmp_path, cifar10_dir):
    static = cifar_resnet(8)
    teacher_path = str(tmp_path / "static.keras")
    static.save(teacher_path)
    config = tiny_train_config(
        tmp_path,
        cifar10_dir,
        epochs=2,
        init_from=teacher_path,
        distill_from=teacher_path,
    )
    with pytest.raises(KeyboardInterrupt):
        train(config, callbacks=[interrupt_at_epoch(0)])
    # The epoch checkpoint is the student alone, like a plain run's.
    last = load_model(str(tmp_path / "run" / "checkpoints" / "last.keras"))
    assert not isinstance(last, GatedDistiller)
    assert last.name == "lc_resnet8"
    # Resumes after the kill: only the second epoch is left.
    model, history = train(config)
    assert history.epoch == [1]
    assert "distillation_loss" in history.history
    assert "val_flops_ratio" in history.history
    saved = load_model(str(tmp_path / "run" / "model.keras"))
    assert not isinstance(saved, GatedDistiller)
    assert saved.name == model.name == "lc_resnet8"
    missing = TrainConfig(
        **{
            **config.__dict__,
            "distill_from": str(tmp_path / "nope.keras"),
            "model_dir": str(tmp_path / "run2"),
        }
    )
    with pytest.raises(FileNotFoundError, match="nope.keras"):
        train(missing)


def test_teacher_of_another_shape_is_refused():
    student = cifar_resnet(8, gating="lc")
    init_from_static(student, cifar_resnet(8))
    teacher = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Flatten(),
            keras.layers.Dense(7),
        ]
    )
    with pytest.raises(ValueError, match="output"):
        GatedDistiller(teacher, student)
