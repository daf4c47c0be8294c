import pytest
import tensorflow as tf

from lcnet_tf.export import GPU_SUPPORTED_OPS
from lcnet_tf.export import check_gpu_compatible
from lcnet_tf.export import compile_for_gpu
from lcnet_tf.export import to_tflite
from tests.export.conftest import make_model


def _convert(function, path):
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [function.get_concrete_function()], function
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    with open(path, "wb") as f:
        f.write(converter.convert())
    return path


def test_table_covers_what_the_exports_use():
    for op in ("CONV_2D", "FULLY_CONNECTED", "MEAN", "LOGISTIC", "MUL"):
        assert op in GPU_SUPPORTED_OPS
    assert "IF" not in GPU_SUPPORTED_OPS
    assert "TOPK_V2" not in GPU_SUPPORTED_OPS
    assert GPU_SUPPORTED_OPS["CONV_2D"] == 6


def test_dynamic_form_is_flagged_for_its_conditionals(tmp_path):
    export = to_tflite(
        make_model("lc"), str(tmp_path / "d.tflite"), form="dynamic"
    )
    report = check_gpu_compatible(export.path)
    assert not report.compatible
    assert any(" IF v" in line for line in report.problems)
    assert "IF" in str(report)


def test_unsupported_ops_and_rules_are_named(tmp_path):
    @tf.function(input_signature=[tf.TensorSpec((1, 8), tf.float32)])
    def top_k(x):
        values, _ = tf.math.top_k(x, k=2)
        flag = tf.cast(x > 0.5, tf.float32)
        return {"values": values, "flag": flag, "first": x[0, 0]}

    report = check_gpu_compatible(_convert(top_k, str(tmp_path / "t.tflite")))
    text = "\n".join(report.problems)
    assert "TOPK_V2" in text and "op not supported" in text
    assert "CAST from bool is not supported for graph outputs" in text
    assert "ShrinkAxisMask" in text


def test_bad_signature_and_file(tmp_path):
    export = to_tflite(make_model("l"), str(tmp_path / "m.tflite"))
    with pytest.raises(ValueError, match="no signature"):
        check_gpu_compatible(export.path, signatures=["nope"])
    with pytest.raises(FileNotFoundError):
        check_gpu_compatible(str(tmp_path / "none.tflite"))


@pytest.mark.gpu
def test_real_delegate_agrees_with_the_table(tmp_path, require_gpu):
    masked = to_tflite(make_model("lc"), str(tmp_path / "m.tflite"))
    model, refused = compile_for_gpu(masked.path)
    assert model.is_fully_accelerated() and refused == []
    dynamic = to_tflite(
        make_model("lc"), str(tmp_path / "d.tflite"), form="dynamic"
    )
    model, refused = compile_for_gpu(dynamic.path)
    assert not model.is_fully_accelerated()
    assert any("IF" in line for line in refused)
