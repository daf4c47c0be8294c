"""tf.distribute strategies for training, with checks that name problems.

`default` is the current (single-device) strategy, `mirrored` is
`MirroredStrategy` over this host's GPUs (or logical CPU devices), and
`multi_worker` is `MultiWorkerMirroredStrategy` over the hosts listed in
`TF_CONFIG`. A TPU runs through the same code path: create a
`tf.distribute.TPUStrategy` and pass it to `train(config, strategy=...)`.
"""

import json
import os
import subprocess
import sys

import keras

STRATEGIES = ("default", "mirrored", "multi_worker")
_MIRRORED = {}


def check_strategy(name):
    if name not in STRATEGIES:
        raise ValueError(
            f"`strategy` must be one of {STRATEGIES}. Received: {name!r}"
        )
    return name


def parse_tf_config(text=None):
    """Reads and checks `TF_CONFIG` for multi-worker training.

    Args:
        text: str or None. The JSON; None reads `$TF_CONFIG`.

    Returns:
        `(workers, task_type, task_index)`: the `host:port` list of
        every worker (chief first when there is one) and this task.

    Raises:
        ValueError: naming what is wrong with `TF_CONFIG`.
    """
    text = os.environ.get("TF_CONFIG", "") if text is None else text
    if not text.strip():
        raise ValueError(
            "strategy 'multi_worker' needs TF_CONFIG, e.g. "
            '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
            '"task": {"type": "worker", "index": 0}}'
        )
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not valid JSON: {error}") from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or not isinstance(task, dict):
        raise ValueError(
            "TF_CONFIG needs a 'cluster' object and a 'task' object. "
            f"Received: {text}"
        )
    workers = []
    for role in ("chief", "worker"):
        addresses = cluster.get(role, [])
        if not isinstance(addresses, list):
            raise ValueError(f"TF_CONFIG cluster.{role} must be a list.")
        for address in addresses:
            host, _, port = str(address).rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(
                    f"TF_CONFIG cluster.{role} address {address!r} is not "
                    f"'host:port'."
                )
        workers += [str(a) for a in addresses]
    if not workers:
        raise ValueError("TF_CONFIG cluster lists no 'worker' (or 'chief').")
    task_type, task_index = task.get("type"), task.get("index")
    if task_type not in ("chief", "worker") or not isinstance(task_index, int):
        raise ValueError(
            f"TF_CONFIG task must be {{'type': 'chief'|'worker', 'index': "
            f"int}}. Received: {task}"
        )
    if not 0 <= task_index < len(cluster.get(task_type, [])):
        raise ValueError(
            f"TF_CONFIG task index {task_index} is out of range for "
            f"cluster.{task_type} ({len(cluster.get(task_type, []))} "
            f"entries)."
        )
    return workers, task_type, task_index


def configure_cpu_replicas(count):
    """Splits the host CPU into `count` logical devices (before TF starts).

    Returns:
        The logical CPU device names.
    """
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * int(count)
        )
    except RuntimeError:
        # Already initialised: fine if it already has enough devices.
        pass
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    if len(devices) < count:
        raise RuntimeError(
            f"Cannot split the CPU into {count} logical devices after "
            f"TensorFlow started ({len(devices)} exist): set cpu_replicas "
            f"before running any TensorFlow op."
        )
    return devices[:count]


def make_strategy(name, worker_timeout=300.0, cpu_replicas=None):
    """Creates the named `tf.distribute` strategy.

    Args:
        name: str. `"default"`, `"mirrored"` or `"multi_worker"`.
        worker_timeout: float. Multi-worker: seconds to wait for every
            worker of `TF_CONFIG` before failing.
        cpu_replicas: int or None. Mirrored: replicate over this many
            logical CPU devices instead of the GPUs.

    Returns:
        A `tf.distribute.Strategy`.

    Example:
    ```python
    strategy = make_strategy("mirrored")  # every local GPU
    with strategy.scope():
        model = cifar_resnet(20, gating="lc")
    ```
    """
    import tensorflow as tf

    check_strategy(name)
    if name != "default" and keras.backend.backend() != "tensorflow":
        raise ValueError(
            f"`strategy={name!r}` is tf.distribute, which needs Keras' "
            f"TensorFlow backend (KERAS_BACKEND=tensorflow); this one is "
            f"{keras.backend.backend()!r}. On JAX use strategy='default' "
            f"or keras.distribution (DataParallel) around model.fit."
        )
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        devices = None
        if cpu_replicas:
            devices = tuple(configure_cpu_replicas(cpu_replicas))
        # One instance per device set and process: separate instances on
        # the same devices can clash over collective instance keys.
        if devices not in _MIRRORED:
            _MIRRORED[devices] = tf.distribute.MirroredStrategy(devices)
        return _MIRRORED[devices]
    workers, task_type, task_index = parse_tf_config()
    own = json.loads(os.environ["TF_CONFIG"])["cluster"][task_type][task_index]
    options = tf.distribute.experimental.CommunicationOptions(
        timeout_seconds=worker_timeout
    )
    # The constructor waits for every worker, forever, inside TensorFlow
    # (no Python thread or signal handler runs meanwhile); a watchdog
    # process turns a worker that never appears into a clear error.
    missing_hint = [w for w in workers if w != own]
    watchdog = _start_watchdog(
        worker_timeout,
        f"lcnet_tf: multi-worker setup did not complete within "
        f"{worker_timeout:g} s: worker(s) {missing_hint} of TF_CONFIG did "
        f"not all come up. Start every task (or raise --worker_timeout). "
        f"Stopping this worker.",
    )
    try:
        return tf.distribute.MultiWorkerMirroredStrategy(
            communication_options=options
        )
    finally:
        watchdog.kill()
        watchdog.wait()


_WATCHDOG = """
import os, sys, time
pid, timeout, message = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
deadline = time.monotonic() + timeout
while time.monotonic() < deadline:
    time.sleep(0.2)
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(0)
sys.stderr.write(message + "\\n")
sys.stderr.flush()
os.kill(pid, 9)
"""


def _start_watchdog(timeout, message):
    """A process that kills this one with `message` after `timeout` s."""
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            _WATCHDOG,
            str(os.getpid()),
            str(timeout),
            message,
        ]
    )


def is_chief(strategy):
    """Whether this task writes checkpoints, logs and the final model."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return (
        resolver.task_type == "worker"
        and resolver.task_id == 0
        and (not has_chief)
    )


def is_multi_worker(strategy):
    import tensorflow as tf

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def task_id(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    return (
        0
        if resolver is None or resolver.task_id is None
        else int(resolver.task_id)
    )
