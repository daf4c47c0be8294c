"""TFLite deployment: masked, dynamic and staged forms, GPU op check.

```python
from lcnet_tf.export import to_tflite, TFLiteModel, StagedRunner

to_tflite(model, "lc.tflite", form="dynamic")      # CPU, real skipping
to_tflite(model, "lc_gpu.tflite", form="masked")   # GPU, any batch
export = to_tflite(model, "lc_staged.tflite", form="staged")
runner = StagedRunner(export.manifest_path)        # GPU when available
```
"""

# Before anything imports it: a clear error when TensorFlow is missing.
from lcnet_tf import _tensorflow_check  # noqa: F401
from lcnet_tf.export.folding import fold_model
from lcnet_tf.export.forms import FORMS
from lcnet_tf.export.forms import executed_flops
from lcnet_tf.export.gpu_compatibility import GPU_SUPPORTED_OPS
from lcnet_tf.export.gpu_compatibility import GpuReport
from lcnet_tf.export.gpu_compatibility import check_gpu_compatible
from lcnet_tf.export.manifest import read_manifest
from lcnet_tf.export.op_profile import OpProfile
from lcnet_tf.export.op_profile import profile_ops
from lcnet_tf.export.parity import keras_reference
from lcnet_tf.export.parity import parity_report
from lcnet_tf.export.pruning import prune_network
from lcnet_tf.export.staged_runner import StagedRunner
from lcnet_tf.export.tflite_exporter import QUANTIZATIONS
from lcnet_tf.export.tflite_exporter import TFLiteExport
from lcnet_tf.export.tflite_exporter import to_tflite
from lcnet_tf.export.tflite_model import TFLiteModel
from lcnet_tf.export.webgpu import compile_for_gpu
from lcnet_tf.export.webgpu import gpu_available

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
