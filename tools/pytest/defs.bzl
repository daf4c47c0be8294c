"""`pytest_test`: one Bazel test target per pytest module."""

def pytest_test(name, srcs, deps = [], data = [], args = [], **kwargs):
    """Runs the pytest module `srcs[0]` (plus helpers) as a `py_test`.

    Args:
        name: target name.
        srcs: the test module first, then helper modules it imports.
        deps: `py_library` targets the tests import.
        data: files the tests read.
        args: extra pytest arguments.
        **kwargs: `py_test` arguments such as `size` and `tags`.
    """
    native.py_test(
        name = name,
        srcs = srcs + ["//tools/pytest:pytest_main.py"],
        main = "//tools/pytest:pytest_main.py",
        args = ["$(rootpath %s)" % srcs[0]] + args,
        deps = deps + ["//tests:test_support"],
        data = data + ["//:pyproject"],
        python_version = "PY3",
        **kwargs
    )
