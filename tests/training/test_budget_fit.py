import pytest

from lcnet_tf.data import cifar10_dataset
from lcnet_tf.models import cifar_resnet
from lcnet_tf.training import TrainConfig
from lcnet_tf.training import build_optimizer
from lcnet_tf.training import compile_model


def _fit(data_dir, target, gating="lc"):
    config = TrainConfig(depth=8, epochs=2, batch_size=64, train_examples=2048)
    model = cifar_resnet(
        8,
        gating=gating,
        budget_target=target,
        budget_weight=8.0,
        noise_std=0.5,
        seed=0,
    )
    compile_model(model, build_optimizer(config, steps=32))
    train = cifar10_dataset(
        "train",
        data_dir,
        batch_size=64,
        num_examples=2048,
        shuffle_seed=0,
    )
    model.fit(train, epochs=2, verbose=0)
    return model


@pytest.mark.slow
def test_budget_loss_moves_flops_toward_target(cifar10_dir):
    test = cifar10_dataset(
        "test", cifar10_dir, batch_size=500, num_examples=1000
    )
    lean = _fit(cifar10_dir, target=0.4).evaluate(
        test, verbose=0, return_dict=True
    )
    full = _fit(cifar10_dir, target=1.0).evaluate(
        test, verbose=0, return_dict=True
    )
    # Fresh gates run everything (ratio ~1.0); a 0.4 target must pull the
    # measured ratio well down, a 1.0 target must leave it near 1.
    assert lean["flops_ratio"] < 0.75, lean
    assert full["flops_ratio"] > 0.9, full
    keep = [v for k, v in lean.items() if k.startswith("keep_")]
    assert min(keep) < 0.5


@pytest.mark.slow
def test_aig_rate_loss_moves_flops_toward_target(cifar10_dir):
    test = cifar10_dataset(
        "test", cifar10_dir, batch_size=500, num_examples=1000
    )
    lean = _fit(cifar10_dir, target=0.4, gating="aig").evaluate(
        test, verbose=0, return_dict=True
    )
    # ResNet-8 with every gated block skipped costs ~0.29: a 0.4 target
    # asks each gated block to run for ~15% of the images.
    assert lean["flops_ratio"] < 0.75, lean
