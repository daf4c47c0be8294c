"""Quiet start-up for the project's commands.

TensorFlow 2.21 prints its C++ start-up lines (absl's "before
InitializeLog", oneDNN, CPU features) straight to file descriptor 2 while
it is imported, whatever `TF_CPP_MIN_LOG_LEVEL` says. For the `lcnet-*`
commands those lines are noise before every output; this module, imported
by `lcnet_tf/__init__.py` before anything loads TensorFlow, imports it
with descriptor 2 pointed at /dev/null. Library users (anything but an
`lcnet-*` command) and `--verbosity` / `-v` runs see TensorFlow as usual.
"""

import os
import sys


def _is_command():
    program = os.path.basename(sys.argv[0]) if sys.argv else ""
    verbose = any(arg.startswith(("--verbosity", "-v")) for arg in sys.argv[1:])
    return program.startswith("lcnet-") and not verbose


def _import_tensorflow_quietly():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow  # noqa: F401
    except ImportError:
        pass  # A Keras backend without TensorFlow.
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


if "tensorflow" not in sys.modules and _is_command():
    _import_tensorflow_quietly()
