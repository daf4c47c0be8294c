import pytest
import tensorflow_datasets as tfds

from lcnet_tf.training import TrainConfig
from lcnet_tf.training import train


@pytest.mark.slow
def test_imagenet_lc_resnet_trains_under_mirrored_strategy(tmp_path):
    """The imagenet2012 pipeline, sharded over two replicas (mock data)."""
    config = TrainConfig(
        dataset="imagenet2012",
        depth=18,
        gating="lc",
        image_size=32,
        batch_size=4,
        epochs=1,
        steps_per_epoch=2,
        train_examples=8,
        eval_examples=4,
        strategy="mirrored",
        cpu_replicas=2,
        sync_batch_norm=True,
        model_dir=str(tmp_path / "run"),
        verbose=0,
    )
    with tfds.testing.mock_data(num_examples=8):
        model, history = train(config)
    assert model.distribute_strategy.num_replicas_in_sync == 2
    assert model.input_shape == (None, 32, 32, 3)
    assert len(history.history["loss"]) == 1
    # Gate heads cost ~1% at 32x32.
    assert 0 < history.history["flops_ratio"][0] <= 1.05
    assert (tmp_path / "run" / "model.keras").exists()
