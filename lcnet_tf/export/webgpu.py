"""A real GPU delegate on a machine without a GPU: LiteRT's WebGPU path.

`ai-edge-litert` ships LiteRT's WebGPU accelerator (the ML Drift GPU
delegate). It needs a WebGPU adapter, which Dawn finds through Vulkan.
On a machine with no GPU, the SwiftShader Vulkan driver that Debian's
`chromium` package installs provides one (a software GPU that runs the
same shaders). This module points Vulkan at it when nothing else is
configured, compiles models for the GPU and reports what the delegate
refused, so tests can assert that a GPU-targeted export runs entirely
on the GPU.
"""

import contextlib
import ctypes
import os
import tempfile

from lcnet_tf.export.interpreter import read_tflite

SWIFTSHADER_ICDS = (
    "/usr/lib/chromium/vk_swiftshader_icd.json",
    "/usr/lib/chromium-browser/vk_swiftshader_icd.json",
)


def _load_vulkan_loader(icd):
    """Makes `libvulkan.so.1` loadable for Dawn, which `dlopen`s it.

    Debian's `chromium` bundles the Vulkan loader next to its SwiftShader
    driver but does not depend on the system one (`libvulkan1`). Loading
    Chromium's copy globally first means Dawn's later `dlopen` of the same
    soname finds it already in the process.

    Args:
        icd: str or None. The ICD file in use.

    Returns:
        bool: whether a Vulkan loader is in the process.
    """
    candidates = ["libvulkan.so.1"]
    if icd:
        candidates.append(
            os.path.join(
                os.path.dirname(icd.split(os.pathsep)[0]), "libvulkan.so.1"
            )
        )
    for candidate in candidates:
        try:
            ctypes.CDLL(candidate, mode=ctypes.RTLD_GLOBAL)
            return True
        except OSError:
            continue
    return False


def _swiftshader_icd():
    """Points `VK_ICD_FILENAMES` at SwiftShader unless a driver is set.

    Returns:
        The ICD file in use, or None (the system's drivers, if any).
    """
    icd = os.environ.get("VK_ICD_FILENAMES")
    if not icd:
        for candidate in SWIFTSHADER_ICDS:
            if os.path.isfile(candidate):
                os.environ["VK_ICD_FILENAMES"] = candidate
                return candidate
    return icd


def configure_vulkan():
    """Uses Chromium's SwiftShader Vulkan driver if no driver is set.

    Points Vulkan at SwiftShader when `VK_ICD_FILENAMES` is unset and
    makes sure a Vulkan loader can be found (the system's, else the one
    Chromium ships).

    Returns:
        The ICD file in use, or None (the system's drivers, if any).
    """
    icd = _swiftshader_icd()
    _load_vulkan_loader(icd)
    return icd


@contextlib.contextmanager
def _captured_stderr():
    """Captures what native code writes to file descriptor 2."""
    with tempfile.TemporaryFile(mode="w+b") as capture:
        saved = os.dup(2)
        os.dup2(capture.fileno(), 2)
        lines = []
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            lines.extend(capture.read().decode("utf-8", "replace").splitlines())


def compile_for_gpu(path):
    """Compiles a `.tflite` file with the GPU accelerator (CPU fallback).

    Args:
        path: str. The model.

    Returns:
        `(compiled_model, refused)`: an `ai_edge_litert` `CompiledModel`
        and the delegate's own lines about ops it did not take (empty
        when `compiled_model.is_fully_accelerated()`).

    Raises:
        RuntimeError: no WebGPU adapter (no GPU and no SwiftShader).
    """
    from ai_edge_litert.compiled_model import CompiledModel
    from ai_edge_litert.hardware_accelerator import HardwareAccelerator

    read_tflite(path)
    configure_vulkan()
    with _captured_stderr() as lines:
        try:
            model = CompiledModel.from_file(
                path,
                hardware_accel=HardwareAccelerator.GPU
                | HardwareAccelerator.CPU,
            )
        except RuntimeError:
            model = None
    if model is None:
        reason = [line for line in lines if "adapter" in line.lower()]
        raise RuntimeError(
            "LiteRT's GPU accelerator did not start: "
            + (reason[-1].strip() if reason else "no WebGPU adapter")
            + ". Install a GPU driver, or Debian's `chromium` for its "
            "SwiftShader Vulkan driver."
        )
    refused = [
        line.strip()
        for line in lines
        if "not supported" in line
        or "will run on the CPU" in line
        or "Following operations" in line
    ]
    return model, refused


def gpu_available():
    """Whether a Vulkan loader and driver (a GPU's or SwiftShader) exist.

    Returns:
        bool. False when no Vulkan loader can be loaded, or when neither
        an ICD file nor `/dev/dri` exists.
    """
    icd = _swiftshader_icd()
    if not _load_vulkan_loader(icd):
        return False
    return icd is not None or os.path.exists("/dev/dri")
