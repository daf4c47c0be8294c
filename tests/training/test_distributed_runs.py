"""Whole training processes: two workers, a missing worker, a SIGKILL."""

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from lcnet_tf.models import load_model

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
pytestmark = pytest.mark.slow


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _train(args, env=None, **kwargs):
    return subprocess.Popen(
        [sys.executable, "-m", "lcnet_tf.cli.train", *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def _tf_config(ports, index):
    workers = [f"127.0.0.1:{port}" for port in ports]
    return json.dumps(
        {
            "cluster": {"worker": workers},
            "task": {"type": "worker", "index": index},
        }
    )


def _finish(processes, timeout):
    """Waits for every process; kills them all on timeout."""
    deadline = time.monotonic() + timeout
    results = []
    try:
        for process in processes:
            left = max(1, deadline - time.monotonic())
            out, err = process.communicate(timeout=left)
            results.append((process.returncode, out, err))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()
    return results


def _tiny(cifar10_dir, model_dir, *extra):
    return [
        f"--data_dir={cifar10_dir}",
        f"--model_dir={model_dir}",
        "--depth=8",
        "--train_examples=256",
        "--eval_examples=64",
        "--batch_size=64",
        "--verbose=0",
        *extra,
    ]


def test_two_workers_train_and_only_the_chief_writes(cifar10_dir, tmp_path):
    ports = _free_ports(2)
    run = tmp_path / "run"
    args = _tiny(cifar10_dir, run, "--strategy=multi_worker", "--epochs=2")
    workers = [
        _train(args, env={"TF_CONFIG": _tf_config(ports, i)}) for i in (0, 1)
    ]
    (rc0, out0, err0), (rc1, out1, err1) = _finish(workers, timeout=400)
    assert rc0 == 0, err0[-3000:]
    assert rc1 == 0, err1[-3000:]
    assert "Saved" in out0
    assert "the chief writes" in out1
    assert sorted(os.listdir(run / "checkpoints")) == ["last.keras"]
    model = load_model(str(run / "model.keras"))
    assert model.name == "lc_resnet8"
    with open(run / "history.csv") as f:
        rows = list(csv.DictReader(f))
    # One writer: each epoch once.
    assert [row["epoch"] for row in rows] == ["0", "1"]


def _weights_run(config, out, env=None):
    return subprocess.Popen(
        [
            sys.executable,
            os.path.join(HERE, "worker_weights_run.py"),
            json.dumps(config),
            str(out),
        ],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_workers_end_with_the_weights_of_a_one_process_run(
    cifar10_dir, tmp_path
):
    ports = _free_ports(2)
    config = dict(
        data_dir=cifar10_dir,
        depth=8,
        train_examples=256,
        eval_examples=64,
        batch_size=64,
        epochs=2,
        verbose=0,
    )
    runs = [
        _weights_run(
            dict(
                config,
                model_dir=str(tmp_path / "run"),
                strategy="multi_worker",
            ),
            tmp_path / f"weights{index}.npz",
            env={"TF_CONFIG": _tf_config(ports, index)},
        )
        for index in (0, 1)
    ]
    # The same global batch in one process: two replicas, each with half
    # of every batch, as each worker has.
    runs.append(
        _weights_run(
            dict(
                config,
                model_dir=str(tmp_path / "one"),
                strategy="mirrored",
                cpu_replicas=2,
            ),
            tmp_path / "one.npz",
        )
    )
    for code, _, err in _finish(runs, timeout=400):
        assert code == 0, err[-3000:]
    first, second, one = (
        np.load(tmp_path / name)
        for name in ("weights0.npz", "weights1.npz", "one.npz")
    )
    assert len(first.files) == len(second.files) == len(one.files) > 10
    # Gradients are all-reduced, so every variable moves identically; the
    # data pipeline is seeded per image, so the workers' halves are the
    # one-process run's.
    for name in first.files:
        np.testing.assert_allclose(first[name], second[name], atol=1e-6)
        np.testing.assert_allclose(first[name], one[name], atol=1e-5)
    # And the chief's saved model is those weights.
    model = load_model(str(tmp_path / "run" / "model.keras"))
    for index, weight in enumerate(model.get_weights()):
        np.testing.assert_allclose(weight, first[f"arr_{index}"], atol=1e-6)


def test_a_worker_that_never_appears_is_a_clear_error(cifar10_dir, tmp_path):
    ports = _free_ports(2)
    args = _tiny(
        cifar10_dir,
        tmp_path / "run",
        "--strategy=multi_worker",
        "--worker_timeout=5",
    )
    start = time.monotonic()
    [(code, _, err)] = _finish(
        [_train(args, env={"TF_CONFIG": _tf_config(ports, 0)})], timeout=120
    )
    assert code != 0
    assert "did not complete within 5 s" in err
    assert f"127.0.0.1:{ports[1]}" in err
    assert time.monotonic() - start < 100


def test_malformed_tf_config_is_a_usage_error(cifar10_dir, tmp_path):
    args = _tiny(cifar10_dir, tmp_path / "run", "--strategy=multi_worker")
    [(code, _, err)] = _finish(
        [_train(args, env={"TF_CONFIG": "{broken"})], timeout=120
    )
    assert code != 0
    assert "TF_CONFIG is not valid JSON" in err


def _epochs(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


def test_sigkill_then_rerun_resumes_without_losing_an_epoch(
    cifar10_dir, tmp_path
):
    run = tmp_path / "run"
    args = [
        f"--data_dir={cifar10_dir}",
        f"--model_dir={run}",
        "--depth=8",
        "--train_examples=1024",
        "--eval_examples=64",
        "--batch_size=64",
        "--epochs=4",
        "--verbose=0",
    ]
    history = run / "history.csv"
    first = _train(args)
    deadline = time.monotonic() + 300
    while not _epochs(history) and time.monotonic() < deadline:
        if first.poll() is not None:
            break
        time.sleep(0.2)
    assert first.poll() is None, "finished before it could be killed"
    done_before = _epochs(history)
    assert done_before, "no epoch completed in time"
    first.send_signal(signal.SIGKILL)
    first.communicate()
    assert first.returncode == -signal.SIGKILL
    assert not (run / "model.keras").exists()
    [(code, _, err)] = _finish([_train(args)], timeout=400)
    assert code == 0, err[-3000:]
    # One row per epoch: the row is written before the backup, and an
    # epoch the rerun redoes (killed between the two) replaces its row.
    assert _epochs(history) == [0, 1, 2, 3]
    model = load_model(str(run / "model.keras"))
    assert model.optimizer.iterations.numpy() == 4 * (1024 // 64)
