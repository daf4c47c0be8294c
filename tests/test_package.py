import lcnet_tf


def test_public_api_is_reachable_from_the_top_package():
    assert callable(lcnet_tf.models.cifar_resnet)
    assert callable(lcnet_tf.models.imagenet_resnet)
    assert callable(lcnet_tf.flops.flops_per_image)
    assert callable(lcnet_tf.flops.count_flops)
    assert callable(lcnet_tf.losses.BudgetLoss)
    assert callable(lcnet_tf.data.cifar10_dataset)
    assert callable(lcnet_tf.training.train)
    for name in lcnet_tf.layers.__all__:
        assert isinstance(getattr(lcnet_tf.layers, name), type)
    for module in ("models", "layers", "data", "training"):
        exported = getattr(lcnet_tf, module).__all__
        assert all(hasattr(getattr(lcnet_tf, module), n) for n in exported)
