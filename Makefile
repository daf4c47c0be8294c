# lcnet-tf developer commands. `make demo` and `make test` work on a fresh
# machine: they create .venv and install the package first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DATA_DIR ?= $(if $(LCNET_DATA_DIR),$(LCNET_DATA_DIR),../shared/data/cifar10)
DEMO_DIR ?= runs/demo
export TF_CPP_MIN_LOG_LEVEL ?= 2
# Test processes (pytest-xdist), one per core up to 4: most tests build
# and trace small graphs on one core. Whole files go to one process, so a
# module's fixtures are built once. TEST_WORKERS=0 runs them in this one.
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); \
	[ $$n -gt 4 ] && n=4; echo $$n)
PYTEST_WORKERS = -n $(TEST_WORKERS) --dist loadfile

.PHONY: install test test-fast gpu-test android-test bazel-test bazel-smoke lint demo clean

$(VENV)/.installed: setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# TensorFlow is not forced by setup.py; this machine has no GPU.
	$(PY) -m pip install -q tensorflow-cpu
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: install
	LCNET_DATA_DIR=$(DATA_DIR) $(PY) -m pytest -q $(PYTEST_WORKERS) --durations=15 tests

# LiteRT's WebGPU delegate on a real (software) GPU: needs a Vulkan driver;
# on a machine without a GPU, Debian's chromium package brings SwiftShader.
# Also LiteRT.js on WebGPU in headless Chromium (tflite/web, npm packages).
gpu-test: install tflite/web/node_modules/.installed
	LCNET_REQUIRE_GPU=1 $(PY) -m pytest -q -m gpu tests

tflite/web/node_modules/.installed: tflite/web/package-lock.json
	cd tflite/web && npm ci --no-audit --no-fund
	touch $@

# The Android runner's core (tflite/android): compiled with Maven against
# LiteRT's published Java and GPU delegate API classes, its logic tested
# (JUnit 5) against a trace of the Python runner. Needs mvn and a JDK 17.
# `python scripts/android_fixture.py --data_dir=...` rewrites the trace.
MVN ?= mvn
android-test:
	$(MVN) -B -q -f tflite/android/pom.xml test

# Bazel (Debian's bazel-bootstrap 4.2, offline): one py_test per test
# module, run on the .venv interpreter; see BUILD files and .bazelrc.
BAZEL ?= bazel
BAZEL_ENV = LCNET_PYTHON=$(abspath $(PY)) LCNET_DATA_DIR=$(abspath $(DATA_DIR))

bazel-test: install
	$(BAZEL_ENV) $(BAZEL) test //...

bazel-smoke: install
	$(BAZEL_ENV) $(BAZEL) test --test_tag_filters=smoke //...

test-fast: install
	LCNET_DATA_DIR=$(DATA_DIR) $(PY) -m pytest -q $(PYTEST_WORKERS) -m "not slow" tests

# Fine-tunes an LC-Net from the published static ResNet-20, evaluates both
# on all 10,000 test images, exports the LC-Net's dynamic TFLite form and
# times it against the static one (a few minutes on 2 CPU cores).
demo: install
	rm -rf $(DEMO_DIR)
	$(VENV)/bin/lcnet-demo --data_dir=$(DATA_DIR) --model_dir=$(DEMO_DIR)

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache *.egg-info
