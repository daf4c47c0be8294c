#!/bin/sh
echo "Bazel coverage tools are not available offline; use 'make test'." >&2
exit 1
