import time

import numpy as np
from absl import logging

from lcnet_tf.export import webgpu
from lcnet_tf.export.interpreter import load_interpreter
from lcnet_tf.export.manifest import read_manifest
from lcnet_tf.export.manifest import width_signature
from lcnet_tf.export.staged_host import run_staged
from lcnet_tf.validation import check_images

ACCELERATORS = ("auto", "gpu", "cpu")


class _CpuBackend:
    """Signature runners of the LiteRT interpreter (XNNPACK)."""

    name = "cpu"

    def __init__(self, path, num_threads):
        self.interpreter = load_interpreter(path, num_threads=num_threads)
        self._runners = {}

    def signatures(self):
        return self.interpreter.get_signature_list()

    def run(self, signature, inputs):
        if signature not in self._runners:
            self._runners[signature] = self.interpreter.get_signature_runner(
                signature
            )
        return self._runners[signature](**inputs)


class _GpuBackend:
    """LiteRT's compiled model on the GPU accelerator.

    With `device_buffers`, a signature's outputs stay in the
    accelerator's buffers (`_GpuTensor`) until the host reads them, and
    one passed to the next signature goes in as it is: the features
    between stages never make the round trip through host memory, only
    the decisions the host takes are read back.
    """

    name = "gpu"

    def __init__(self, path, device_buffers=True):
        self.model, self.refused = webgpu.compile_for_gpu(path)
        self.device_buffers = device_buffers
        self.through_host = set()
        self._buffers = {}
        self._runs = {}

    def signatures(self):
        return self.model.get_signature_list()

    def _signature_buffers(self, signature):
        if signature not in self._buffers:
            names = self.model.get_signature_list()[signature]
            details = self.model.get_output_tensor_details(signature)
            self._buffers[signature] = (
                {
                    name: self.model.create_input_buffer_by_name(
                        signature, name
                    )
                    for name in names["inputs"]
                },
                {
                    name: (
                        self.model.create_output_buffer_by_name(
                            signature, name
                        ),
                        tuple(details[name]["shape"]),
                    )
                    for name in names["outputs"]
                },
            )
        return self._buffers[signature]

    def run(self, signature, inputs):
        in_buffers, out_buffers = self._signature_buffers(signature)
        feed, chained = {}, []
        chain = self.device_buffers and signature not in self.through_host
        for name, value in inputs.items():
            if chain and isinstance(value, _GpuTensor):
                if value.backend is self and value.is_live():
                    feed[name] = value.buffer
                    chained.append(name)
                    continue
            feed[name] = self._write(in_buffers[name], value)
        targets = {name: pair[0] for name, pair in out_buffers.items()}
        try:
            self.model.run_by_name(signature, feed, targets)
        except RuntimeError:
            if not chained:
                raise
            # A signature may refuse another's output buffer (seen on an
            # NVIDIA GPU's Vulkan driver for the width bodies of a
            # prefix export, whose `channel_scale` has no buffer
            # requirements): its inputs go through the host from now on.
            self.through_host.add(signature)
            for name in chained:
                feed[name] = self._write(in_buffers[name], inputs[name])
            self.model.run_by_name(signature, feed, targets)
        self._runs[signature] = self._runs.get(signature, 0) + 1
        outputs = {
            name: _GpuTensor(self, signature, buffer, shape)
            for name, (buffer, shape) in out_buffers.items()
        }
        if not self.device_buffers:
            outputs = {k: np.asarray(v) for k, v in outputs.items()}
        return outputs

    @staticmethod
    def _write(buffer, value):
        value = np.asarray(value)
        dtype = np.uint8 if value.dtype == np.uint8 else np.float32
        buffer.write(np.ascontiguousarray(value, dtype))
        return buffer


class _GpuTensor:
    """A signature's output left in its accelerator buffer.

    `np.asarray` reads it back (once); `_GpuBackend.run` takes it as an
    input without reading it. The buffer is the signature's own, so the
    tensor's values are those of its run until that signature runs again;
    reading it first after that is an error rather than the new run's
    values (a tensor read before keeps what it read).
    """

    def __init__(self, backend, signature, buffer, shape):
        self.backend = backend
        self.signature = signature
        self.buffer = buffer
        self.shape = shape
        self._run = backend._runs[signature]
        self._value = None

    def is_live(self):
        """Whether the buffer still holds this run's values."""
        return self.backend._runs[self.signature] == self._run

    def __array__(self, dtype=None, copy=None):
        if self._value is None:
            if not self.is_live():
                raise RuntimeError(
                    f"An output of signature '{self.signature}' was used after "
                    f"that signature ran again (its buffer now holds the new "
                    f"run's values). Read it with np.asarray first."
                )
            self._value = self.buffer.read(
                int(np.prod(self.shape)), np.float32
            ).reshape(self.shape)
        return self._value if dtype is None else self._value.astype(dtype)


class StagedRunner:
    """Runs a staged export: gates on the host decide which bodies run.

    Follows the JSON manifest written by `to_tflite(..., form="staged")`
    (format in `tflite/README.md`), exactly as the Android runner does:
    run `stem`; for each block run its gate signature, skip the body when
    the block gate is closed (a block that changes shape then runs its
    projection, the `skip` signature), else run the body with the
    channel and block scales (for a nested channel gate, the body of
    exactly the kept width); run `head`. Batch 1.

    With `accelerator="auto"` the GPU accelerator is used when one starts
    (LiteRT's WebGPU delegate) and the runner logs that it fell back to
    the CPU otherwise; `runner.accelerator` says which one runs.

    Args:
        manifest_path: str. The staged manifest `.json`.
        accelerator: str. `"auto"`, `"gpu"` or `"cpu"`.
        num_threads: int or None. CPU threads.
        profile: bool. Accumulate seconds per signature in
            `runner.timings` (for benchmarks).
        on_call: callable or None. Called as `on_call(signature, inputs,
            outputs)` after every signature run (e.g. to record a trace
            that other runners replay, `record_staged_trace`), with NumPy
            arrays.
        device_buffers: bool. On the GPU, pass each stage's features and
            scales to the next signature in the accelerator's buffers,
            reading back only the gate decisions and the logits (False:
            every output through host memory, as the first version did;
            for comparisons).

    Example:
    ```python
    runner = StagedRunner("lc_resnet20_staged.json")
    outputs = runner(x_test[:1])  # {"logits", "decisions", "flops"}
    ```
    """

    def __init__(
        self,
        manifest_path,
        accelerator="auto",
        num_threads=None,
        profile=False,
        on_call=None,
        device_buffers=True,
    ):
        if accelerator not in ACCELERATORS:
            raise ValueError(
                f"`accelerator` must be one of {ACCELERATORS}. Received: "
                f"{accelerator!r}"
            )
        self.manifest, self.tflite_path = read_manifest(manifest_path)
        self.fallback_reason = None
        self._backend = None
        if accelerator in ("auto", "gpu"):
            try:
                self._backend = _GpuBackend(
                    self.tflite_path, device_buffers=device_buffers
                )
            except RuntimeError as error:
                if accelerator == "gpu":
                    raise
                self.fallback_reason = str(error)
                logging.warning(
                    "StagedRunner: no GPU accelerator (%s); running on the "
                    "CPU (XNNPACK).",
                    error,
                )
        if self._backend is None:
            self._backend = _CpuBackend(self.tflite_path, num_threads)
        self._check_signatures(manifest_path)
        self.input_shape = tuple(self.manifest["input"]["shape"][1:])
        self.input_dtype = self.manifest["input"].get("dtype", "float32")
        self.timings = {} if profile else None
        self.on_call = on_call

    @property
    def accelerator(self):
        return self._backend.name

    @property
    def device_buffers(self):
        """Whether features pass between signatures in GPU buffers
        (False on the CPU or when asked; see `signatures_through_host`
        for signatures whose driver refused)."""
        return bool(getattr(self._backend, "device_buffers", False))

    @property
    def signatures_through_host(self):
        """Signatures that refused a GPU buffer as input: their inputs
        are copied through host memory."""
        return sorted(getattr(self._backend, "through_host", ()))

    @property
    def fully_on_gpu(self):
        """On the GPU backend: whether the delegate took every op."""
        if self._backend.name != "gpu":
            return False
        return self._backend.model.is_fully_accelerated()

    def _check_signatures(self, manifest_path):
        available = self._backend.signatures()
        wanted = [self.manifest["stem"], self.manifest["head"]]
        for block in self.manifest["blocks"]:
            wanted += [
                s
                for s in (block["gate"], block["body"], block.get("skip"))
                if s
            ]
            wanted += list(block.get("widths", {}).values())
        missing = [name for name in wanted if name not in available]
        if missing:
            raise ValueError(
                f"Manifest '{manifest_path}' names signatures {missing} that "
                f"'{self.tflite_path}' does not have."
            )
        # A width body the manifest leaves out would never run: the file
        # and the manifest describe different gates.
        for block in self.manifest["blocks"]:
            listed = set(block.get("widths", {}).values())
            extra = sorted(
                name
                for name in available
                if name.startswith(width_signature(block["body"], ""))
                and name not in listed
            )
            if extra:
                raise ValueError(
                    f"'{self.tflite_path}' has width signatures {extra} of "
                    f"block '{block['name']}' that manifest "
                    f"'{manifest_path}' does not list."
                )

    def __call__(self, images):
        """Runs one image.

        Args:
            images: float array `(1, H, W, C)`, normalised.

        Returns:
            `{"logits": (1, classes), "decisions": (1, gated_blocks, 2),
            "flops": (1,)}`: the FLOPs are exactly what ran.
        """
        images = check_images(images, self.input_shape, dtype=self.input_dtype)
        if len(images) != 1:
            raise ValueError(
                f"The staged form runs one image at a time; received a "
                f"batch of {len(images)}. Use predict() to loop."
            )
        return run_staged(self.manifest, self._run, images)

    def _run(self, signature, inputs):
        start = time.perf_counter()
        outputs = self._backend.run(signature, inputs)
        if self.timings is not None:
            seconds, calls = self.timings.get(signature, (0.0, 0))
            self.timings[signature] = (
                seconds + time.perf_counter() - start,
                calls + 1,
            )
        if self.on_call is not None:
            self.on_call(
                signature,
                {k: np.asarray(v) for k, v in inputs.items()},
                {k: np.asarray(v) for k, v in outputs.items()},
            )
        return outputs

    def predict(self, images):
        """Runs images one by one; returns the concatenated outputs."""
        images = check_images(images, self.input_shape, dtype=self.input_dtype)
        parts = [self(images[i : i + 1]) for i in range(len(images))]
        return {
            key: np.concatenate([part[key] for part in parts])
            for key in parts[0]
        }
