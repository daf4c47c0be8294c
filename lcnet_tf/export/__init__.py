"""TFLite deployment: masked, dynamic and staged forms, GPU op check.

```python
from lcnet_tf.export import to_tflite, TFLiteModel, StagedRunner

to_tflite(model, "lc.tflite", form="dynamic")      # CPU, real skipping
to_tflite(model, "lc_gpu.tflite", form="masked")   # GPU, any batch
export = to_tflite(model, "lc_staged.tflite", form="staged")
runner = StagedRunner(export.manifest_path)        # GPU when available
```

Running an export needs only LiteRT (`ai-edge-litert`), Keras on any
backend and NumPy: `TFLiteModel`, `StagedRunner`, the GPU op check and
the op profile import without TensorFlow. Converting (`to_tflite`,
folding, parity with Keras) needs TensorFlow and loads it on first use.
"""

import importlib

from lcnet_tf.export.gpu_compatibility import GPU_SUPPORTED_OPS
from lcnet_tf.export.gpu_compatibility import GpuReport
from lcnet_tf.export.gpu_compatibility import check_gpu_compatible
from lcnet_tf.export.manifest import read_manifest
from lcnet_tf.export.op_profile import OpProfile
from lcnet_tf.export.op_profile import profile_ops
from lcnet_tf.export.staged_runner import StagedRunner
from lcnet_tf.export.tflite_model import TFLiteModel
from lcnet_tf.export.webgpu import compile_for_gpu
from lcnet_tf.export.webgpu import gpu_available

# The converter's names and their modules, loaded on first use behind
# `_tensorflow_check`, so a machine without TensorFlow gets its clear
# error only when it asks for one of them.
_CONVERTER = {
    "fold_model": "folding",
    "FORMS": "forms",
    "executed_flops": "forms",
    "keras_reference": "parity",
    "overhead_exports": "overhead",
    "parity_report": "parity",
    "prune_network": "pruning",
    "QUANTIZATIONS": "tflite_exporter",
    "TFLiteExport": "tflite_exporter",
    "to_tflite": "tflite_exporter",
}


def __getattr__(name):
    module = _CONVERTER.get(name)
    if module is None:
        raise AttributeError(
            f"module 'lcnet_tf.export' has no attribute {name!r}"
        )
    importlib.import_module("lcnet_tf._tensorflow_check")
    value = getattr(importlib.import_module(f"lcnet_tf.export.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "fold_model",
    "FORMS",
    "executed_flops",
    "GPU_SUPPORTED_OPS",
    "GpuReport",
    "check_gpu_compatible",
    "read_manifest",
    "OpProfile",
    "profile_ops",
    "keras_reference",
    "overhead_exports",
    "parity_report",
    "prune_network",
    "StagedRunner",
    "QUANTIZATIONS",
    "TFLiteExport",
    "to_tflite",
    "TFLiteModel",
    "compile_for_gpu",
    "gpu_available",
]
