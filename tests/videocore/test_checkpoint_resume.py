"""Kill / resume in real processes: SIGKILL mid-training then resume is bit-exact; SIGTERM saves and exits."""
import os
import signal

import numpy as np
import pytest

from tests.videocore import workers

STEPS = 300


# In make test although ~40 s: resuming after a kill is a whole user path, and a path guarded only by
# the slow set once broke unseen (issue 26).
def test_sigkilled_run_resumes_to_the_same_weights_as_an_uninterrupted_one(tmp_path):
    # Op determinism + a fixed seed; dropout (a Keras seed generator), stateless noise seeded by
    # the step, a per-epoch schedule and a shuffled dataset rebuilt from its position all have to
    # resume exactly for the weights to match.
    # 20 ms of sleep after each step leaves the test seconds to kill the run between its
    # checkpoint 30 and its end, even on a loaded machine.
    args = ["--num_steps", STEPS, "--checkpoint_every", 10, "--deterministic", "--sample_sleep", 0.02]
    reference = workers.Worker(tmp_path / "reference", tmp_path / "reference.npz", *args, name="reference")
    killed = workers.Worker(tmp_path / "run", tmp_path / "run.npz", *args, name="killed")
    workers.wait_until(lambda: (workers.latest_checkpoint_step(tmp_path / "run") or 0) >= 30, killed)
    os.kill(killed.process.pid, signal.SIGKILL)
    assert killed.wait() == -signal.SIGKILL
    assert not (tmp_path / "run.npz").exists()  # it really died mid-training
    killed_at = workers.latest_checkpoint_step(tmp_path / "run")
    assert 30 <= killed_at < STEPS

    resumed = workers.Worker(tmp_path / "run", tmp_path / "run.npz", *args, name="resumed")
    assert resumed.wait() == 0, resumed.log()[-3000:]
    assert reference.wait() == 0, reference.log()[-3000:]
    result = resumed.result()
    assert f"resumed from {tmp_path / 'run' / 'checkpoints' / f'ckpt-{killed_at}'}" in resumed.log()
    assert result["positions_started"] == [[killed_at // 7, killed_at % 7]]  # 7 batches per epoch
    assert result["step"] == reference.result()["step"] == STEPS

    expected = np.load(tmp_path / "reference.npz")
    actual = np.load(tmp_path / "run.npz")
    assert sorted(actual.files) == sorted(expected.files)
    assert any("seed_generator" not in name and "optimizer" in name for name in actual.files)
    for name in expected.files:
        np.testing.assert_allclose(actual[name], expected[name], rtol=0, atol=1e-6, err_msg=name)


@pytest.mark.slow  # a training subprocess: ~14 s; test_faults keeps a SIGTERM test in make test
def test_sigterm_finishes_the_step_saves_and_exits_cleanly(tmp_path):
    worker = workers.Worker(tmp_path / "run", tmp_path / "run.npz", "--num_steps", 1_000_000,
                            "--checkpoint_every", 1_000_000, name="terminated")
    workers.wait_until(lambda: "step 25/" in worker.log(), worker)
    os.kill(worker.process.pid, signal.SIGTERM)
    assert worker.wait() == 0, worker.log()[-3000:]
    result = worker.result()
    assert result["stopped_by"] == "SIGTERM"
    assert 25 <= result["step"] < 1_000_000
    assert workers.latest_checkpoint_step(tmp_path / "run") == result["step"]
    assert f"stopped by SIGTERM at step {result['step']}" in worker.log()
    assert "run again with the same workdir to resume" in worker.log()
