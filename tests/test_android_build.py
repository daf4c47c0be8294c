import json
import os
import re
import xml.etree.ElementTree as ElementTree

import pytest

from lcnet_tf.export.manifest import MANIFEST_FORMAT
from lcnet_tf.export.manifest import MANIFEST_VERSION
from lcnet_tf.export.staged_trace import TRACE_FORMAT
from lcnet_tf.export.staged_trace import TRACE_VERSION

# Under Bazel this file is a symlink into the checkout.
REPO = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
ANDROID = os.path.join(REPO, "tflite", "android")
POM = "{http://maven.apache.org/POM/4.0.0}"
ARCHIVES = {
    "tensorflow-lite": "litert.version",
    "tensorflow-lite-api": "litert.version",
    "tensorflow-lite-gpu": "litert.version",
    "tensorflow-lite-gpu-api": "litert.gpu.api.version",
}


def _maven_versions():
    root = ElementTree.parse(os.path.join(ANDROID, "pom.xml")).getroot()
    properties = {
        child.tag.replace(POM, ""): child.text
        for child in root.find(f"{POM}properties")
    }
    module = ElementTree.parse(
        os.path.join(ANDROID, "maven", "litert-classes", "pom.xml")
    ).getroot()
    versions = {}
    for item in module.iter(f"{POM}artifactItem"):
        artifact = item.find(f"{POM}artifactId").text
        version = item.find(f"{POM}version").text
        versions[artifact] = properties[version.strip("${}")]
    return versions


def _gradle_versions():
    with open(os.path.join(ANDROID, "build.gradle.kts")) as f:
        text = f.read()
    values = dict(re.findall(r'val (\w+) = "([^"]+)"', text))
    versions = {}
    for artifact, version in re.findall(
        r'implementation\("org\.tensorflow:([\w-]+):([^"]+)"\)', text
    ):
        versions[artifact] = values.get(version.lstrip("$"), version)
    return versions


def test_maven_and_gradle_name_the_same_litert_versions():
    maven = _maven_versions()
    assert set(maven) == set(ARCHIVES)
    assert _gradle_versions() == maven


@pytest.mark.parametrize(
    "name",
    [
        "staged_trace.json",
        "staged_trace_nested.json",
        "staged_trace_prefix.json",
        "staged_trace_projection.json",
    ],
)
def test_trace_fixture_matches_the_exporter_format(name):
    path = os.path.join(ANDROID, "src", "test", "resources", name)
    with open(path) as f:
        trace = json.load(f)
    assert (trace["format"], trace["version"]) == (TRACE_FORMAT, TRACE_VERSION)
    manifest = trace["manifest"]
    assert manifest["format"] == MANIFEST_FORMAT
    assert manifest["version"] == MANIFEST_VERSION
    assert len(trace["images"]) >= 16
    # Real routing: the traced images do not all take the same blocks.
    routings = {
        tuple(d[0] for d in image["decisions"]) for image in trace["images"]
    }
    assert len(routings) > 1
    # Recorded by the current exporter: the stem and bodies return the
    # next gate's outputs, so gate signatures run only after skips.
    assert all(b["gate_fused"] for b in manifest["blocks"] if b["gate"])
    if "nested" in name:
        assert all("widths" in block for block in manifest["blocks"])
    if "prefix" in name:
        # Free gates reordered: width bodies, picked by the kept span.
        assert {
            block.get("channel_selection") for block in manifest["blocks"]
        } == {"prefix", None}
    if "projection" in name:
        # Gated projection blocks: skipped, they run their projection.
        skips = {b["skip"] for b in manifest["blocks"] if "skip" in b}
        assert len(skips) == 2
        called = {
            call["signature"]
            for image in trace["images"]
            for call in image["calls"]
        }
        assert skips & called
