"""Measured step times, cached per machine and workload, so a run's printed estimate holds at every size.

A step's time is not its FLOPs at one convolution's rate: at the small presets most of it is per-step
overhead (dispatch, memory-bound ops, convolutions on small feature maps that run far below the peak). So
the training loop times its own steps and, on the chief, caches their median here under `workload_key(...)`
(the machine, the software, and everything that decides a step's cost: the config but its files and
bookkeeping, the batch, the precision, XLA, the replicas). A run's estimate reads it back; a main with
nothing cached yet times a few steps first (`calibrate` in vaegan_train). DeepDream keys its seconds per
frame with `key_for`.

Files: $NEURAL_VIDEO_STEP_TIMES, else $NEURAL_VIDEO_CACHE/steps or ~/.cache/neural_video/steps, one small
JSON per workload.
"""

import dataclasses
import datetime
import hashlib
import json
import os
import pathlib
import statistics

from videocore import files
from videocore import machine

CACHE_VERSION = 1
WARM_UP_STEPS = 2  # the first steps of a process include tracing and oneDNN's kernel selection
RECORD_AFTER = 10  # timed steps after the warm-up before the loop records a median


@dataclasses.dataclass(frozen=True)
class Measured:
    seconds: float  # median seconds per step
    steps: int  # timed steps behind the median
    measured_at: str  # UTC, ISO 8601


def cache_dir():
    """`$NEURAL_VIDEO_STEP_TIMES`, else the `steps` folder beside videocore.machine's cache."""
    return pathlib.Path(os.environ.get("NEURAL_VIDEO_STEP_TIMES") or machine.cache_dir().parent / "steps")


# Config blocks that name a run's files, length and bookkeeping, not the cost of its step.
RUN_ONLY_BLOCKS = ("data", "loop", "eval", "reconstruct")


def workload_key(config, policy, replicas, info=None):
    """The key of a training run's step on this machine: every field of `config` (a run config) but the
    RUN_ONLY_BLOCKS, and of the loop block what changes a step: the batch, precision, XLA, replicas."""
    fields = {name: _plain(value) for name, value in config.items() if name not in RUN_ONLY_BLOCKS}
    loop = config.loop
    fields["loop"] = {"batch_size": int(loop.batch_size), "policy": str(policy),
                      "jit_compile": loop.get("jit_compile", None), "replicas": int(replicas)}
    return key_for(fields, info)


def key_for(fields, info=None):
    """Hex digest of this machine + software + `fields` (a JSON-able dict naming one workload)."""
    info = info or machine.describe()
    named = {"machine": dataclasses.asdict(info), "workload": fields, "version": CACHE_VERSION}
    return hashlib.sha256(json.dumps(named, sort_keys=True, default=str).encode()).hexdigest()[:24]


def _plain(value):
    """A config field as JSON-able data: a ConfigDict as a dict, anything else (relive's model name) as is."""
    return value.to_dict() if hasattr(value, "to_dict") else value


def _path(key, directory=None):
    return pathlib.Path(directory or cache_dir()) / f"{key}.json"


def lookup(key, directory=None):
    """The Measured step time cached under `key`, or None (never measured here, or a damaged file)."""
    try:
        stored = json.loads(_path(key, directory).read_text())
        return Measured(float(stored["seconds"]), int(stored["steps"]), str(stored["measured_at"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def record(key, step_times, directory=None):
    """Caches the median of `step_times` (seconds, warm-up already dropped) under `key`; returns the Measured.

    The newest measurement replaces the one before: the machine, its load and the code change, and the
    latest run says best what the next will take."""
    times = [float(t) for t in step_times]
    return record_seconds(key, statistics.median(times), len(times), directory) if times else None


def record_seconds(key, seconds, steps, directory=None):
    """Caches `seconds` per step (a typical value over `steps` timed steps) under `key`, as `record`."""
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    measured = Measured(float(seconds), int(steps), now)
    path = _path(key, directory)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with files.atomic_path(path) as temp:
            pathlib.Path(temp).write_text(json.dumps(dataclasses.asdict(measured)))
    except OSError:
        pass  # a read-only cache only costs the next run its estimate
    return measured
