import json
import os

import pytest

from lcnet_tf.analysis.demo import DemoConfig
from lcnet_tf.analysis.demo import format_demo
from lcnet_tf.analysis.demo import run_demo


@pytest.mark.slow
def test_demo_tells_the_whole_story(cifar10_dir, tmp_path):
    config = DemoConfig(
        data_dir=cifar10_dir,
        model_dir=str(tmp_path / "demo"),
        epochs=1,
        train_examples=256,
        test_images=200,
        latency_images=10,
    )
    result = run_demo(config)
    assert result["lc"]["num_images"] == result["static"]["num_images"] == 200
    assert result["static"]["flops_ratio"] == 1.0
    assert 0 < result["lc"]["flops_ratio"] <= 1.01
    assert os.path.getsize(result["tflite"]) > 100_000
    latency = result["latency"]
    assert latency["images"] == 10 and latency["model_ms"] > 0
    text = format_demo(result)
    assert "Copy to a phone: " + result["tflite"] in text
    assert "top-1" in text and "x the static network's speed" in text
    json.dumps(result, default=float)


def test_bad_demo_settings_are_refused_by_name():
    with pytest.raises(ValueError, match="latency_images"):
        DemoConfig(latency_images=0)
