"""Entry point of the Bazel test targets: pytest on the files given."""

import sys

import pytest

if __name__ == "__main__":
    # The runfiles tree is read-only: no .pytest_cache.
    sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", *sys.argv[1:]]))
