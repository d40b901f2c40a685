"""Distribution in real processes: two workers on localhost, and mirrored over two CPU devices.

The two workers must end with identical weights, only the chief may write, and a signal to one
worker must stop both at the same step. Both set-ups are compared with a one-device run of the same global batch: splitting the batch over
replicas must not change the maths (losses averaged over the global batch, gradients clipped
after the cross-replica sum), only the order of floating-point sums.
"""
import json
import os
import re
import signal

import numpy as np
import pytest

from tests.videocore import workers
from videocore import distribute
from videocore import errors

# Gradient clipping on, at a bound that clips some elements but not all: clipping must act on the
# global gradient, not on each replica's share, for the runs to agree.
ARGS = ["--num_steps", 12, "--checkpoint_every", 5, "--dropout", 0, "--no_noise", "--batch_size", 4,
        "--clip_value", 0.01]


@pytest.fixture(scope="module")
def single_device_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("single")
    worker = workers.Worker(root / "run", root / "weights.npz", *ARGS, name="single")
    assert worker.wait() == 0, worker.log()[-3000:]
    return np.load(root / "weights.npz")


def assert_same_maths(actual, expected):
    assert sorted(actual.files) == sorted(expected.files)
    for name in expected.files:
        np.testing.assert_allclose(actual[name], expected[name], rtol=0, atol=1e-6, err_msg=name)


def start_team(tmp_path, *args):
    ports = workers.free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    team = []
    for index in range(2):
        temp = tmp_path / f"tmp{index}"
        temp.mkdir()
        env = {"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
               "TMPDIR": str(temp)}
        team.append(workers.Worker(tmp_path / "run", tmp_path / f"worker{index}.npz", "--distribute",
                                   "multi_worker", *args, env=env, name=f"worker{index}"))
    return team


@pytest.mark.slow  # two worker processes: ~30 s
def test_two_workers_end_identical_and_only_the_chief_writes(tmp_path, single_device_run):
    team = start_team(tmp_path, *ARGS)
    for worker in team:
        assert worker.wait() == 0, worker.log()[-3000:]
    chief, other = team
    assert chief.result()["step"] == other.result()["step"] == 12
    assert "distribution: multi_worker, 2 replica(s), chief" in chief.log()
    assert "distribution: multi_worker, 2 replica(s), worker 1" in other.log()

    weights = [np.load(tmp_path / f"worker{index}.npz") for index in range(2)]
    for name in weights[0].files:
        assert np.array_equal(weights[0][name], weights[1][name]), name
    assert_same_maths(weights[0], single_device_run)

    # Only the chief writes checkpoints and summaries; the other worker saved into its temp dir
    # at the same steps (saving reads distributed variables) and deleted what it wrote.
    assert workers.latest_checkpoint_step(tmp_path / "run") == 12
    saves = re.compile(r"step (\d+): checkpoint ")
    assert saves.findall(chief.log()) == ["0", "5", "10", "12"]
    assert saves.findall(other.log()) == []
    assert len(list((tmp_path / "run" / "tensorboard").iterdir())) == 1
    assert not any(path.name.startswith("videocore-worker-checkpoint") for path in (tmp_path / "tmp1").iterdir())


@pytest.mark.slow  # two worker processes: ~25 s
def test_sigterm_to_one_worker_stops_both_at_the_same_step(tmp_path):
    chief, other = start_team(tmp_path, "--num_steps", 1_000_000, "--checkpoint_every", 1_000_000)
    workers.wait_until(lambda: "step 10/" in other.log(), other)
    os.kill(other.process.pid, signal.SIGTERM)  # a preempted non-chief machine
    for worker in (chief, other):
        assert worker.wait() == 0, worker.log()[-3000:]
    stopped = [chief.result(), other.result()]
    assert stopped[1]["stopped_by"] == "SIGTERM"
    assert stopped[0]["stopped_by"] == "a signal to another worker"
    assert stopped[0]["step"] == stopped[1]["step"] >= 10
    assert workers.latest_checkpoint_step(tmp_path / "run") == stopped[0]["step"]
    weights = [np.load(tmp_path / f"worker{index}.npz") for index in range(2)]
    for name in weights[0].files:
        assert np.array_equal(weights[0][name], weights[1][name]), name


def test_mirrored_over_two_cpu_devices_matches_one_device(tmp_path, single_device_run):
    worker = workers.Worker(tmp_path / "run", tmp_path / "weights.npz", "--distribute", "mirrored",
                            "--cpu_replicas", 2, *ARGS, name="mirrored")
    assert worker.wait() == 0, worker.log()[-3000:]
    assert "distribution: mirrored, 2 replica(s), chief" in worker.log()
    assert worker.result()["traces"] == 1
    assert_same_maths(np.load(tmp_path / "weights.npz"), single_device_run)


def test_chief_follows_tensorflows_convention():
    workers_only = {"cluster": {"worker": ["a:1", "b:2"]}}
    assert distribute.is_chief_task({**workers_only, "task": {"type": "worker", "index": 0}})
    assert not distribute.is_chief_task({**workers_only, "task": {"type": "worker", "index": 1}})
    with_chief = {"cluster": {"chief": ["c:3"], "worker": ["a:1"]}}
    assert distribute.is_chief_task({**with_chief, "task": {"type": "chief", "index": 0}})
    assert not distribute.is_chief_task({**with_chief, "task": {"type": "worker", "index": 0}})


@pytest.mark.parametrize("tf_config, message", [
    (None, "needs TF_CONFIG naming the cluster"),
    ("{not json", "TF_CONFIG is not valid JSON"),
    ('["a:1"]', "TF_CONFIG must be a JSON object"),
])
def test_multi_worker_without_a_usable_tf_config_is_a_config_error(monkeypatch, tf_config, message):
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    with pytest.raises(errors.ConfigError, match=message):
        distribute.make_strategy("multi_worker")
