"""tf.distribute strategy from a flag: one device, mirrored over local devices, or multi-worker.

Facts this module relies on (found by experiment here, see DESIGN.md): the strategy must exist
before any other TensorFlow work in the process ("Collective ops must be configured at program
startup"); networks and optimizers must be created inside `strategy.scope()`; Keras 3 optimizers
sum gradients over replicas themselves, so losses are scaled by the global batch and gradients are
never all-reduced by hand.
"""
import json
import os

import tensorflow as tf
from absl import logging

from videocore import errors

KINDS = ("default", "mirrored", "multi_worker")


def tf_config():
    """The parsed TF_CONFIG environment variable ({} when unset). ConfigError if it is not JSON."""
    text = os.environ.get("TF_CONFIG", "")
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise errors.ConfigError(f"TF_CONFIG is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise errors.ConfigError("TF_CONFIG must be a JSON object with 'cluster' and 'task'")
    return value


def task_of(config):
    """(task type, task index) from a parsed TF_CONFIG; ("worker", 0) for a single process."""
    task = config.get("task", {})
    return task.get("type", "worker"), int(task.get("index", 0))


def is_chief_task(config):
    """The chief is the "chief" task if the cluster has one, else worker 0 (TF's own convention)."""
    task_type, index = task_of(config)
    if task_type == "chief":
        return True
    has_chief = "chief" in config.get("cluster", {})
    return task_type == "worker" and index == 0 and not has_chief


def _split_cpu(num_replicas):
    """Makes `num_replicas` logical CPU devices; possible only before TF's runtime starts."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    existing = tf.config.get_logical_device_configuration(cpu)
    if existing and len(existing) == num_replicas:
        return
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(num_replicas)])
    except RuntimeError:
        raise errors.ConfigError(
            f"loop.cpu_replicas={num_replicas}: TensorFlow already started in this process; "
            "create the strategy before any other TensorFlow work") from None


def start(loop_config):
    """The strategy of a run's `config.loop` (distribute, cpu_replicas), made now if it is not made yet.

    A training main calls this first, before anything that runs a TensorFlow op (reading a checkpoint,
    encoding latents, timing a convolution for an estimate): a mirrored or multi-worker strategy can only
    be made before TensorFlow's runtime starts. The loop's own call later returns the same strategy.
    """
    return make_strategy(loop_config.distribute, cpu_replicas=loop_config.get("cpu_replicas", 1))


_made = {}  # (kind, cpu_replicas) -> the strategy made in this process: it can be made only once


def make_strategy(kind="default", *, cpu_replicas=1):
    """Returns a tf.distribute.Strategy for `kind` (the same one on every call with the same arguments).

    default: the current (single-device) strategy.
    mirrored: MirroredStrategy over all local GPUs; on a CPU-only machine over `cpu_replicas`
      logical CPU devices (useful for testing the multi-replica path on one CPU).
    multi_worker: MultiWorkerMirroredStrategy with ring collectives, cluster from TF_CONFIG.
    Raises ConfigError for an unknown kind or a missing / malformed TF_CONFIG.
    """
    if kind not in KINDS:
        raise errors.ConfigError(f"loop.distribute={kind!r} is not one of {', '.join(KINDS)}")
    if (kind, cpu_replicas) in _made:
        return _made[kind, cpu_replicas]
    if kind == "default":
        strategy = tf.distribute.get_strategy()
    elif kind == "mirrored":
        devices = None
        if not tf.config.list_physical_devices("GPU") and cpu_replicas > 1:
            _split_cpu(cpu_replicas)
            devices = [device.name for device in tf.config.list_logical_devices("CPU")]
        strategy = tf.distribute.MirroredStrategy(devices=devices)
    else:
        config = tf_config()
        if not config.get("cluster", {}).get("worker") and not config.get("cluster", {}).get("chief"):
            raise errors.ConfigError(
                "loop.distribute=multi_worker needs TF_CONFIG naming the cluster's workers and "
                "this process's task, e.g. "
                '{"cluster": {"worker": ["host1:port", "host2:port"]}, "task": {"type": "worker", "index": 0}}')
        options = tf.distribute.experimental.CommunicationOptions(
            implementation=tf.distribute.experimental.CommunicationImplementation.RING)
        strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    logging.info("distribution: %s, %d replica(s), %s", kind, strategy.num_replicas_in_sync,
                 "chief" if is_chief(strategy) else "worker %d" % worker_index(strategy))
    if kind != "default":  # the default strategy is whatever scope is current: look it up every time
        _made[kind, cpu_replicas] = strategy
    return strategy


def is_multi_worker(strategy):
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def worker_index(strategy):
    if not is_multi_worker(strategy):
        return 0
    return task_of(tf_config())[1]


def is_chief(strategy):
    """True in the process that writes checkpoints, summaries and samples."""
    if not is_multi_worker(strategy):
        return True
    return is_chief_task(tf_config())
