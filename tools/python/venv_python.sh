#!/bin/sh
# Bazel's Python interpreter: the project's virtual environment.
if [ -z "$LCNET_PYTHON" ] || [ ! -x "$LCNET_PYTHON" ]; then
  echo "LCNET_PYTHON is not set to a Python interpreter ('$LCNET_PYTHON'):" \
    "run 'make bazel-test', or pass --test_env=LCNET_PYTHON=/abs/.venv/bin/python" >&2
  exit 2
fi
exec "$LCNET_PYTHON" "$@"
