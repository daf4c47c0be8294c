"""Loading `.tflite` files with LiteRT, with errors that name the problem."""

import os

from ai_edge_litert import interpreter as litert

# Bytes 4..8 of every TFLite flatbuffer.
_IDENTIFIER = b"TFL3"

# The interpreter's switches that change how a graph runs, not what it
# computes: how XNNPACK partitions it, which of its features it uses,
# and whether conditionals keep their branches' memory between runs.
INTERPRETER_OPTIONS = (
    "experimental_disable_delegate_clustering",
    "experimental_default_delegate_latest_features",
    "experimental_disable_delegate_node_fusion",
    "experimental_preserve_all_tensors",
)


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


def check_interpreter_options(options):
    """`options` as a dict of `INTERPRETER_OPTIONS` switches.

    Raises:
        ValueError: a name that is not one of them, or a value that is
            not a bool.
    """
    options = dict(options or {})
    for name, value in options.items():
        if name not in INTERPRETER_OPTIONS:
            raise ValueError(
                f"Unknown interpreter option '{name}'; expected one of "
                f"{list(INTERPRETER_OPTIONS)}."
            )
        if not isinstance(value, bool):
            raise ValueError(
                f"Interpreter option '{name}' must be True or False; "
                f"received {value!r}."
            )
    return options


def load_interpreter(path, num_threads=None, delegates=None, options=None):
    """A ready `ai_edge_litert` interpreter for a `.tflite` file.

    Args:
        path: str. The model.
        num_threads: int or None. CPU threads (XNNPACK).
        delegates: list of loaded delegates, or None.
        options: dict or None. Switches of `INTERPRETER_OPTIONS`, by name,
            set to True or False (`benchmarks/interpreter_options.py`
            times them).

    Returns:
        An allocated `ai_edge_litert.interpreter.Interpreter`.

    Example:
    ```python
    interpreter = load_interpreter(
        "lc_dynamic.tflite",
        num_threads=2,
        options={"experimental_preserve_all_tensors": True},
    )
    ```
    """
    options = check_interpreter_options(options)
    content = read_tflite(path)
    try:
        interpreter = litert.Interpreter(
            model_content=content,
            num_threads=num_threads,
            experimental_delegates=delegates,
            **options,
        )
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as error:
        raise ValueError(
            f"'{path}' could not be loaded as a TFLite model (corrupt or "
            f"truncated?): {error}"
        ) from None
    return interpreter
