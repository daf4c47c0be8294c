"""Loading `.tflite` files with LiteRT, with errors that name the problem."""

import os

from ai_edge_litert import interpreter as litert

# Bytes 4..8 of every TFLite flatbuffer.
_IDENTIFIER = b"TFL3"


def read_tflite(path):
    """Reads a `.tflite` file and checks that it is one.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is empty, truncated or not a TFLite model.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No TFLite model at '{path}'.")
    with open(path, "rb") as f:
        content = f.read()
    if len(content) < 8 or content[4:8] != _IDENTIFIER:
        raise ValueError(
            f"'{path}' is not a TFLite model (no 'TFL3' identifier; "
            f"{len(content)} bytes). Is it corrupt or another format?"
        )
    return content


def load_interpreter(path, num_threads=None, delegates=None):
    """A ready `ai_edge_litert` interpreter for a `.tflite` file.

    Args:
        path: str. The model.
        num_threads: int or None. CPU threads (XNNPACK).
        delegates: list of loaded delegates, or None.

    Returns:
        An allocated `ai_edge_litert.interpreter.Interpreter`.
    """
    content = read_tflite(path)
    try:
        interpreter = litert.Interpreter(
            model_content=content,
            num_threads=num_threads,
            experimental_delegates=delegates,
        )
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as error:
        raise ValueError(
            f"'{path}' could not be loaded as a TFLite model (corrupt or "
            f"truncated?): {error}"
        ) from None
    return interpreter
