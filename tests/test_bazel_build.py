import os
import re

# Under Bazel this file is a symlink into the checkout: resolve it so the
# BUILD files are read from the source tree.
REPO = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))


def _targets(build_file):
    with open(build_file) as f:
        text = f.read()
    return set(re.findall(r'pytest_test\(\s*name = "(\w+)"', text))


def test_every_test_module_has_a_bazel_target():
    missing = []
    for root, _, files in os.walk(os.path.join(REPO, "tests")):
        modules = {f[:-3] for f in files if re.match(r"test_\w+\.py$", f)}
        if not modules:
            continue
        build = os.path.join(root, "BUILD")
        targets = _targets(build) if os.path.exists(build) else set()
        missing += [
            os.path.relpath(os.path.join(root, m), REPO)
            for m in sorted(modules - targets)
        ]
    assert not missing, f"test modules without a pytest_test target: {missing}"


def test_offline_shims_are_declared():
    with open(os.path.join(REPO, "WORKSPACE")) as f:
        workspace = f.read()
    for name in (
        "platforms",
        "remote_coverage_tools",
        "rules_cc",
        "rules_java",
    ):
        assert f'"{name}"' in workspace
        assert os.path.exists(
            os.path.join(REPO, "third_party", "bazel", name, "WORKSPACE")
        )
