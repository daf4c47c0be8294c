"""Per-op time of a `.tflite` export, from LiteRT's own profiler.

The Python wheel of LiteRT exposes no profiler, but its runtime library
(`libLiteRt.so`, shipped in the wheel) has the C API of `CompiledModel`
with one: runtime options `enable_profiling = true` make it record an
event per executed op, XNNPACK's fused kernels included. This module
drives that C API through `ctypes`, runs real images one by one, and
sums the events per op type.

What the events are good for: the XNNPACK kernels (convolutions, gate
heads' means and dense layers, masks) are timed inside the delegate and
match an unprofiled run (a profiled static ResNet-20 runs within 5% of
its unprofiled latency). The interpreter's own ops (`IF`, the comparisons
that feed it, each branch's `AllocateTensors`) are counted exactly, but
the profiler inflates their time many times over (a profiled `IF` costs
tens of microseconds); their true share is the unprofiled latency minus
the kernels' time, which is how `benchmarks/op_profile.py` reports it.
"""

import collections
import ctypes
import dataclasses
import os

import numpy as np

from lcnet_tf.export.interpreter import read_tflite

_STATUS_OK = 0
_CPU = 1
# tflite::Profiler::EventType values.
_DEFAULT_EVENT = 1
_OPERATOR_EVENT = 2
_DELEGATE_EVENTS = (4, 8)
_LOCK_WRITE = 1
# Opaque LiteRT handles are pointers.
_Handle = ctypes.c_void_p


class _MemoryUsage(ctypes.Structure):
    _fields_ = [("values", ctypes.c_int64 * 3)]


class _Event(ctypes.Structure):
    """`ProfiledEventData` of `litert/c/litert_profiler_event.h`."""

    _fields_ = [
        ("tag", ctypes.c_char_p),
        ("event_type", ctypes.c_int),
        ("start_us", ctypes.c_uint64),
        ("elapsed_us", ctypes.c_uint64),
        ("begin_memory", _MemoryUsage),
        ("end_memory", _MemoryUsage),
        ("metadata1", ctypes.c_uint64),
        ("metadata2", ctypes.c_uint64),
        ("source", ctypes.c_int),
    ]


@dataclasses.dataclass
class OpProfile:
    """Per-image op counts and times of one `.tflite` model.

    Attributes:
        path: str. The model.
        images: int. Images profiled.
        kernel_us: dict op type -> mean microseconds per image spent in
            XNNPACK kernels of that type (`"Convolution (NHWC, F32)
            IGEMM"`, `"Mean (ND) Reduce2"`, ...).
        kernel_calls: dict op type -> mean calls per image.
        interpreter_calls: dict op -> mean calls per image of the ops the
            interpreter runs itself (`IF`, `LESS`, ...; not delegated).
        branch_allocations: float. Mean `AllocateTensors` calls of `IF`
            branches per image (LiteRT allocates a branch's tensors
            each time it runs it).
        profiled_us: float. Mean profiled invoke time per image
            (inflated where the interpreter runs ops itself).
    """

    path: str
    images: int
    kernel_us: dict
    kernel_calls: dict
    interpreter_calls: dict
    branch_allocations: float
    profiled_us: float

    @property
    def total_kernel_us(self):
        """Microseconds per image inside XNNPACK kernels."""
        return float(sum(self.kernel_us.values()))

    def to_dict(self):
        return dict(
            dataclasses.asdict(self), total_kernel_us=self.total_kernel_us
        )


def _library():
    from ai_edge_litert import interpreter

    path = os.path.join(os.path.dirname(interpreter.__file__), "libLiteRt.so")
    if not os.path.isfile(path):
        raise RuntimeError(
            f"LiteRT's runtime library is not at '{path}'; op profiles "
            f"need the `ai-edge-litert` wheel (2.x) that ships it."
        )
    library = ctypes.CDLL(path)
    for symbol in ("LiteRtCompiledModelGetProfiler", "LiteRtGetProfilerEvents"):
        if not hasattr(library, symbol):
            raise RuntimeError(
                f"'{path}' has no {symbol}: this LiteRT is too old for "
                f"op profiles."
            )
    return library


class _Profiler:
    """One compiled model with profiling on, and its buffers."""

    def __init__(self, path):
        self.lib = _library()
        self._keep = []
        self.env = self._new("LiteRtCreateEnvironment", 0, None)
        self.model = self._new(
            "LiteRtCreateModelFromFile", self.env, os.fsencode(path)
        )
        options = self._new("LiteRtCreateOptions")
        self.options = options
        self._call("LiteRtSetOptionsHardwareAccelerators", options, _CPU)
        # One thread: the C API's CPU options do not reach the
        # interpreter in this LiteRT (a 2-thread run times the same).
        for identifier, toml in (
            (b"runtime_options_string", b"enable_profiling = true\n"),
            (b"cpu_delegate", b"num_threads = 1\n"),
        ):
            payload = ctypes.create_string_buffer(toml)
            release = ctypes.CFUNCTYPE(None, _Handle)(lambda _: None)
            self._keep += [payload, release]
            opaque = self._new(
                "LiteRtCreateOpaqueOptions",
                identifier,
                ctypes.cast(payload, _Handle),
                release,
            )
            self._call("LiteRtAddOpaqueOptions", options, opaque)
        self.compiled = self._new(
            "LiteRtCreateCompiledModel", self.env, self.model, options
        )
        self.profiler = self._new(
            "LiteRtCompiledModelGetProfiler", self.compiled
        )
        signature = self._new(
            "LiteRtGetModelSignature", self.model, ctypes.c_size_t(0)
        )
        self.inputs = self._buffers(signature, "Input")
        self.outputs = self._buffers(signature, "Output")
        if len(self.inputs) != 1:
            raise ValueError(
                f"'{path}' has {len(self.inputs)} inputs in its first "
                f"signature; op profiles take masked or dynamic exports "
                f"(one image input)."
            )

    def close(self):
        """Frees the native objects, the last made first."""
        for buffer in list(self.inputs) + list(self.outputs):
            self.lib.LiteRtDestroyTensorBuffer(_Handle(buffer))
        self.lib.LiteRtDestroyCompiledModel(self.compiled)
        self.lib.LiteRtDestroyOptions(self.options)
        self.lib.LiteRtDestroyModel(self.model)
        self.lib.LiteRtDestroyEnvironment(self.env)

    def _call(self, name, *args):
        status = getattr(self.lib, name)(*args)
        if status != _STATUS_OK:
            raise RuntimeError(f"LiteRT {name} failed (status {status}).")

    def _new(self, name, *args):
        handle = _Handle()
        self._call(name, *args, ctypes.byref(handle))
        return handle

    def _buffers(self, signature, kind):
        count = ctypes.c_size_t()
        self._call(
            f"LiteRtGetNumSignature{kind}s", signature, ctypes.byref(count)
        )
        buffers = []
        for index in range(count.value):
            index = ctypes.c_size_t(index)
            tensor = self._new(
                f"LiteRtGetSignature{kind}TensorByIndex", signature, index
            )
            # LiteRtRankedTensorType is read and handed back unparsed.
            tensor_type = ctypes.create_string_buffer(256)
            self._call("LiteRtGetRankedTensorType", tensor, tensor_type)
            requirements = self._new(
                f"LiteRtGetCompiledModel{kind}BufferRequirements",
                self.compiled,
                ctypes.c_size_t(0),
                index,
            )
            buffers.append(
                self._new(
                    "LiteRtCreateManagedTensorBufferFromRequirements",
                    self.env,
                    tensor_type,
                    requirements,
                )
            )
        return (_Handle * len(buffers))(*buffers)

    def input_bytes(self):
        size = ctypes.c_size_t()
        self._call(
            "LiteRtGetTensorBufferPackedSize",
            _Handle(self.inputs[0]),
            ctypes.byref(size),
        )
        return size.value

    def run(self, image):
        host = _Handle()
        buffer = _Handle(self.inputs[0])
        self._call(
            "LiteRtLockTensorBuffer", buffer, ctypes.byref(host), _LOCK_WRITE
        )
        data = np.ascontiguousarray(image)
        ctypes.memmove(host, data.ctypes.data, data.nbytes)
        self._call("LiteRtUnlockTensorBuffer", buffer)
        self._call(
            "LiteRtRunCompiledModel",
            self.compiled,
            ctypes.c_size_t(0),
            ctypes.c_size_t(len(self.inputs)),
            self.inputs,
            ctypes.c_size_t(len(self.outputs)),
            self.outputs,
        )

    def events(self, image):
        """Runs `image` with the profiler on; returns its events."""
        self._call("LiteRtResetProfiler", self.profiler)
        self._call("LiteRtStartProfiler", self.profiler)
        self.run(image)
        self._call("LiteRtStopProfiler", self.profiler)
        count = ctypes.c_int()
        self._call(
            "LiteRtGetNumProfilerEvents", self.profiler, ctypes.byref(count)
        )
        events = (_Event * count.value)()
        self._call("LiteRtGetProfilerEvents", self.profiler, count, events)
        return [
            (
                event.tag.decode(),
                event.event_type,
                int(event.elapsed_us),
                int(event.metadata2),
            )
            for event in events
        ]


def profile_ops(path, images, warmup=10):
    """Profiles a masked or dynamic `.tflite` export op by op (1 thread).

    Args:
        path: str. A `.tflite` file with one image input.
        images: array `(n, H, W, C)` of the model's input dtype; each
            image runs alone (batch 1).
        warmup: int. Unprofiled runs of the first image before.

    Returns:
        `OpProfile`.

    Example:
    ```python
    profile = profile_ops("lc_dynamic.tflite", x_test[:100])
    profile.kernel_us["Convolution (NHWC, F32) IGEMM"]  # us per image
    profile.interpreter_calls["IF"]                     # IFs per image
    ```
    """
    read_tflite(path)
    images = np.asarray(images)
    if images.ndim != 4 or not len(images):
        raise ValueError(
            f"Expected images of shape (n, H, W, C) with n >= 1; received "
            f"shape {images.shape}."
        )
    kernel_us = collections.Counter()
    kernel_calls = collections.Counter()
    interpreter_calls = collections.Counter()
    allocations = 0
    invoke_us = 0
    profiler = _Profiler(path)
    try:
        # The image is copied into LiteRT's buffer byte for byte.
        if images[0].nbytes != profiler.input_bytes():
            raise ValueError(
                f"'{path}' takes {profiler.input_bytes()} bytes per image; "
                f"received images of shape {images.shape[1:]} and dtype "
                f"{images.dtype} ({images[0].nbytes} bytes)."
            )
        for _ in range(warmup):
            profiler.run(images[:1])
        for image in images:
            for tag, kind, elapsed, subgraph in profiler.events(image[None]):
                if kind in _DELEGATE_EVENTS:
                    kernel_us[tag] += elapsed
                    kernel_calls[tag] += 1
                elif kind == _OPERATOR_EVENT:
                    interpreter_calls[tag] += 1
                elif kind == _DEFAULT_EVENT and tag == "AllocateTensors":
                    allocations += subgraph != 0
                elif kind == _DEFAULT_EVENT and tag == "Invoke":
                    invoke_us += elapsed if not subgraph else 0
    finally:
        profiler.close()
    n = len(images)
    return OpProfile(
        path=path,
        images=n,
        kernel_us={k: v / n for k, v in kernel_us.most_common()},
        kernel_calls={k: v / n for k, v in kernel_calls.items()},
        interpreter_calls={k: v / n for k, v in interpreter_calls.items()},
        branch_allocations=allocations / n,
        profiled_us=invoke_us / n,
    )
