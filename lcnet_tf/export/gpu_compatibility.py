"""Checks a `.tflite` file against the ops the TFLite GPU delegate runs.

The pip wheel's analyzer does not check GPU compatibility, so this module
keeps its own table, read from the upstream delegate source:
`tflite/delegates/gpu/common/model_builder.cc` (`NewOperationParser` and
each parser's `CheckMaxSupportedOpVersion`) and
`tflite/tools/versioning/gpu_compatibility.cc`, google-ai-edge/LiteRT at
commit f67457790c9c (2026-08-21). Besides op names and versions it checks
the rules our exports could break: CAST from bool must feed exactly one
op and not be an output, STRIDED_SLICE takes no ellipsis/new-axis/
shrink-axis masks, MEAN and PACK need constant axes, FULLY_CONNECTED no
constant input; ADD_N takes two inputs. Control flow (IF, WHILE) and
anything else not listed falls back to the CPU.
"""

import dataclasses

from ai_edge_litert import schema_py_generated as schema

from lcnet_tf.export.interpreter import read_tflite

# Builtin op -> highest version the GPU delegate accepts (None: any).
GPU_SUPPORTED_OPS = {
    "ABS": 2,
    "ADD": 2,
    "ADD_N": 2,
    "AVERAGE_POOL_2D": 2,
    "BATCH_MATMUL": None,
    "CAST": None,
    "CONCATENATION": 2,
    "CONV_2D": 6,
    "COS": 2,
    "CUMSUM": 1,
    "DENSIFY": 1,
    "DEPTHWISE_CONV_2D": 6,
    "DEPTH_TO_SPACE": None,
    "DEQUANTIZE": 3,
    "DIV": 2,
    "ELU": 2,
    "EQUAL": 2,
    "EXP": 2,
    "FLOOR": 2,
    "FLOOR_DIV": 2,
    "FLOOR_MOD": 2,
    "FULLY_CONNECTED": 9,
    "GATHER": 1,
    "GELU": 2,
    "GREATER": 2,
    "GREATER_EQUAL": 2,
    "HARD_SWISH": None,
    "LEAKY_RELU": 2,
    "LESS": 2,
    "LESS_EQUAL": 2,
    "LOG": 2,
    "LOGICAL_AND": 2,
    "LOGISTIC": 2,
    "LSTM": 4,
    "MAXIMUM": 2,
    "MAX_POOL_2D": 2,
    "MEAN": None,
    "MINIMUM": 2,
    "MIRROR_PAD": 2,
    "MUL": 3,
    "NEG": 2,
    "NOT_EQUAL": 2,
    "ONE_HOT": 1,
    "PACK": None,
    "PAD": 2,
    "PADV2": 2,
    "POW": 2,
    "PRELU": 1,
    "QUANTIZE": 2,
    "REDUCE_MAX": None,
    "REDUCE_MIN": None,
    "REDUCE_PROD": None,
    "RELU": 2,
    "RELU6": 2,
    "RELU_0_TO_1": 2,
    "RELU_N1_TO_1": 2,
    "RESHAPE": 1,
    "RESIZE_BILINEAR": 3,
    "RESIZE_NEAREST_NEIGHBOR": 3,
    "RSQRT": 2,
    "SELECT": 1,
    "SELECT_V2": 1,
    "SIGN": 2,
    "SIN": 2,
    "SLICE": 2,
    "SOFTMAX": 2,
    "SPACE_TO_DEPTH": 2,
    "SPLIT": None,
    "SPLIT_V": None,
    "SQRT": 2,
    "SQUARE": 2,
    "SQUARED_DIFFERENCE": 2,
    "STRIDED_SLICE": 4,
    "SUB": 2,
    "SUM": None,
    "TANH": 2,
    "TILE": None,
    "TRANSPOSE": 4,
    "TRANSPOSE_CONV": 3,
    "UNPACK": None,
}

_LOGICAL_OPS = {
    "EQUAL",
    "NOT_EQUAL",
    "GREATER",
    "GREATER_EQUAL",
    "LESS",
    "LESS_EQUAL",
    "LOGICAL_AND",
}
_OP_NAMES = {
    value: name
    for name, value in vars(schema.BuiltinOperator).items()
    if not name.startswith("_")
}
_TYPE_NAMES = {
    value: name
    for name, value in vars(schema.TensorType).items()
    if not name.startswith("_")
}


@dataclasses.dataclass
class GpuReport:
    """The outcome of `check_gpu_compatible`.

    Attributes:
        path: the model checked.
        problems: one line per offending op: signature, op index, op name
            and version, and why the GPU delegate refuses it.
        op_counts: `{op_name: count}` over the checked subgraphs.
    """

    path: str
    problems: list
    op_counts: dict

    @property
    def compatible(self):
        return not self.problems

    def __str__(self):
        if self.compatible:
            return f"{self.path}: every op runs on the GPU delegate."
        lines = "\n  ".join(self.problems)
        return (
            f"{self.path}: {len(self.problems)} op(s) the GPU delegate does "
            f"not run:\n  {lines}"
        )


def _op_name(model, operator):
    code = model.OperatorCodes(operator.OpcodeIndex())
    builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    if builtin == schema.BuiltinOperator.CUSTOM:
        return "CUSTOM:" + (code.CustomCode() or b"").decode(), code.Version()
    return _OP_NAMES.get(builtin, f"BUILTIN_{builtin}"), code.Version()


def _subgraph_names(model):
    names = {}
    for index in range(model.SignatureDefsLength()):
        signature = model.SignatureDefs(index)
        names[signature.SubgraphIndex()] = signature.SignatureKey().decode()
    return names


def _is_constant(model, subgraph, tensor_index):
    buffer = model.Buffers(subgraph.Tensors(tensor_index).Buffer())
    return buffer is not None and buffer.DataLength() > 0


def _rule_problem(model, subgraph, operator, name, consumers, outputs):
    inputs = [i for i in operator.InputsAsNumpy() if i >= 0]
    if name == "CAST":
        source = subgraph.Tensors(inputs[0])
        target = subgraph.Tensors(operator.Outputs(0))
        if _TYPE_NAMES.get(source.Type()) == "BOOL":
            out = operator.Outputs(0)
            if out in outputs:
                return "CAST from bool is not supported for graph outputs"
            if len(consumers.get(out, [])) != 1:
                return "CAST from bool must feed exactly one op"
            producer = consumers.get(("producer", inputs[0]))
            if producer not in _LOGICAL_OPS:
                return "CAST from bool must follow a comparison op"
        elif _TYPE_NAMES.get(target.Type()) not in ("FLOAT32", "INT32", "BOOL"):
            return "unsupported CAST types"
    if name == "STRIDED_SLICE":
        options = schema.StridedSliceOptions()
        table = operator.BuiltinOptions()
        options.Init(table.Bytes, table.Pos)
        for mask in ("EllipsisMask", "NewAxisMask", "ShrinkAxisMask"):
            if getattr(options, mask)():
                return f"STRIDED_SLICE with {mask} is not supported"
    if name in ("MEAN", "SUM"):
        if len(inputs) < 2 or not _is_constant(model, subgraph, inputs[1]):
            return f"{name} needs constant axes"
    if name == "FULLY_CONNECTED" and _is_constant(model, subgraph, inputs[0]):
        return "FULLY_CONNECTED does not take a constant input"
    if name == "ADD_N" and len(inputs) != 2:
        return "ADD_N takes exactly two inputs"
    return None


def check_gpu_compatible(path, signatures=None):
    """Lists every op of a `.tflite` file the GPU delegate would refuse.

    Args:
        path: str. The model.
        signatures: list of signature names to check, or None for every
            subgraph reachable from a signature (or subgraph 0).

    Returns:
        A `GpuReport`; `report.compatible` is True when every op of the
        checked signatures is GPU-delegable.

    Example:
    ```python
    report = check_gpu_compatible("lc_resnet20_masked.tflite")
    assert report.compatible, str(report)
    ```
    """
    content = read_tflite(path)
    model = schema.Model.GetRootAsModel(content, 0)
    names = _subgraph_names(model)
    if signatures is None:
        indices = sorted(names) or [0]
    else:
        by_name = {name: index for index, name in names.items()}
        unknown = [s for s in signatures if s not in by_name]
        if unknown:
            raise ValueError(
                f"'{path}' has no signature(s) {unknown}; it has "
                f"{sorted(by_name)}."
            )
        indices = [by_name[s] for s in signatures]
    problems, counts = [], {}
    for index in indices:
        subgraph = model.Subgraphs(index)
        label = names.get(index, f"subgraph{index}")
        consumers = {}
        operators = [
            subgraph.Operators(i) for i in range(subgraph.OperatorsLength())
        ]
        for operator in operators:
            name, _ = _op_name(model, operator)
            for tensor in operator.InputsAsNumpy():
                consumers.setdefault(int(tensor), []).append(name)
            for tensor in operator.OutputsAsNumpy():
                consumers[("producer", int(tensor))] = name
        outputs = set(int(t) for t in subgraph.OutputsAsNumpy())
        for op_index, operator in enumerate(operators):
            name, version = _op_name(model, operator)
            counts[name] = counts.get(name, 0) + 1
            where = f"{label}#{op_index} {name} v{version}"
            if name not in GPU_SUPPORTED_OPS:
                problems.append(f"{where}: op not supported by the GPU")
                continue
            limit = GPU_SUPPORTED_OPS[name]
            if limit is not None and version > limit:
                problems.append(
                    f"{where}: the GPU delegate supports versions <= {limit}"
                )
                continue
            reason = _rule_problem(
                model, subgraph, operator, name, consumers, outputs
            )
            if reason:
                problems.append(f"{where}: {reason}")
    return GpuReport(path=path, problems=problems, op_counts=counts)
