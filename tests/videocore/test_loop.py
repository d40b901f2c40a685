"""The training loop in-process: steps and epochs, resume, the NaN / spike guard, signals, config errors."""
import logging as python_logging
import math
import os
import signal

import numpy as np
import pytest
import tensorflow as tf

from tests.videocore import events
from tests.videocore import tiny_task
from videocore import checkpoint
from videocore import errors
from videocore import loop


def train(config, workdir, task_class=tiny_task.TinyTask):
    return loop.train(lambda setup: task_class(config, setup), config, workdir)


def checkpoint_steps(workdir):
    state = tf.train.get_checkpoint_state(str(workdir / "checkpoints"))
    return [checkpoint.checkpoint_step(path) for path in state.all_model_checkpoint_paths]


def checkpoints_are_finite(workdir):
    for step in checkpoint_steps(workdir):
        reader = tf.train.load_checkpoint(str(workdir / "checkpoints" / f"ckpt-{step}"))
        for name, dtype in reader.get_variable_to_dtype_map().items():
            if dtype.is_floating and not np.isfinite(reader.get_tensor(name)).all():
                return False
    return True


def test_runs_steps_compiles_once_and_keeps_last_checkpoints(tmp_path):
    config = tiny_task.tiny_config(num_steps=20, checkpoint_every_steps=5, keep_checkpoints=2)
    config.one_epoch_per_dataset = True  # the loop must rebuild the dataset at each epoch's end
    result = train(config, tmp_path)
    assert result.step == 20
    assert result.position == (2, 6)  # 20 batches of 7 per epoch
    assert result.traces == 1
    assert result.task.positions_started == [(0, 0), (1, 0), (2, 0)]
    assert checkpoint_steps(tmp_path) == [15, 20]
    assert result.checkpoint.endswith("ckpt-20")
    assert result.stopped_by is None and result.rollbacks == 0
    assert int(result.task.optimizers["net"].iterations.numpy()) == 20


def test_num_epochs_stops_at_the_epoch_boundary(tmp_path):
    config = tiny_task.tiny_config(num_steps=0, num_epochs=2)
    result = train(config, tmp_path)
    assert result.step == 14 and result.position == (2, 0)


def test_resume_continues_from_the_saved_position_and_schedule(tmp_path):
    config = tiny_task.tiny_config(num_steps=10, checkpoint_every_steps=4)
    first = train(config, tmp_path)
    assert first.step == 10
    config.loop.num_steps = 17
    second = train(config, tmp_path)
    assert second.task.positions_started == [(1, 3)]  # 10 batches of 7 per epoch
    assert second.step == 17 and second.position == (2, 3)
    assert int(second.task.optimizers["net"].iterations.numpy()) == 17
    noise = [(step, float(value)) for step, value in events.read(tmp_path / "tensorboard")["losses/noise"]]
    assert [step for step, _ in noise] == list(range(1, 18))
    assert all(value == pytest.approx(config.noise_schedule[(step - 1) // 7]) for step, value in noise)


def test_resumed_run_uses_the_checkpointed_schedule(tmp_path, caplog):
    config = tiny_task.tiny_config(num_steps=3)
    train(config, tmp_path)
    config.loop.num_steps = 5
    config.noise_schedule = [0.9] * 5
    caplog.set_level(python_logging.WARNING)
    result = train(config, tmp_path)
    assert result.losses["noise"] == pytest.approx(0.3)  # the checkpoint's first value
    assert "schedule 'noise' differs from the checkpoint's" in caplog.text


def test_nan_loss_rolls_back_skips_the_batch_and_goes_on(tmp_path, caplog):
    caplog.set_level(python_logging.WARNING)
    config = tiny_task.tiny_config(num_steps=20, checkpoint_every_steps=4)
    config.poison = ((1, 2, math.nan),)  # the 10th batch
    result = train(config, tmp_path)
    assert result.rollbacks == 1
    assert result.step == 20
    # Steps 9 and 10 were undone (back to checkpoint 8) and their batches not replayed.
    assert result.position == (3, 1)  # 22 batches consumed
    assert "step 10: loss 'mse' is nan; rolled back to" in caplog.text
    assert "ckpt-8 (step 8), skipping batch 2 of epoch 1" in caplog.text
    assert all(np.isfinite(w).all() for w in tiny_task.weights(result.task).values())
    assert checkpoints_are_finite(tmp_path)
    rollbacks = events.read(tmp_path / "tensorboard")["guard/rollbacks"]
    assert [(step, float(value)) for step, value in rollbacks] == [(8, 1.0)]


def test_spike_rolls_back_and_lowers_the_learning_rate(tmp_path, caplog):
    caplog.set_level(python_logging.WARNING)
    config = tiny_task.tiny_config(num_steps=16, checkpoint_every_steps=4)
    config.dropout = 0.0
    config.noise_schedule = [0.0] * 5
    config.poison = ((1, 6, 1000.0),)  # the 14th batch, inputs x1000
    config.loop.guard.update(spike_multiple=100.0, min_history=5, lr_factor=0.5)
    result = train(config, tmp_path)
    assert result.rollbacks == 1
    assert "step 14: loss 'mse' =" in caplog.text and "running median" in caplog.text
    assert "learning rates x0.5" in caplog.text
    assert float(result.task.optimizers["net"].learning_rate) == pytest.approx(0.5 * config.learning_rate)
    assert checkpoints_are_finite(tmp_path)


def test_rollbacks_in_a_row_stop_with_a_clear_message(tmp_path):
    config = tiny_task.tiny_config(num_steps=30, checkpoint_every_steps=4)
    config.poison = tuple((1, index, math.nan) for index in range(7))  # all of epoch 1
    config.loop.guard.max_rollbacks = 2
    with pytest.raises(checkpoint.DivergedError) as raised:
        train(config, tmp_path)
    message = str(raised.value)
    assert "diverged at step 5 (epoch 1, batch 2)" in message  # steps 8, 5 and 5 failed
    assert "after 2 rollback(s) in a row" in message and "ckpt-4" in message
    assert "\n" not in message
    assert isinstance(raised.value, errors.UserInputError)  # scripts print it in one line
    assert checkpoints_are_finite(tmp_path)
    assert checkpoint_steps(tmp_path)[-1] == 4


class SignalsItself(tiny_task.TinyTask):
    """Sends itself SIGINT while sampling after step 6, as Ctrl-C during training would."""

    def sample(self, step):
        if step == 6:
            os.kill(os.getpid(), signal.SIGINT)
        return {}


def test_sigint_finishes_the_step_saves_and_returns(tmp_path):
    config = tiny_task.tiny_config(num_steps=50, checkpoint_every_steps=100, sample_every_steps=1)
    before = signal.getsignal(signal.SIGINT)  # SIG_IGN when pytest runs as a background job
    result = train(config, tmp_path, SignalsItself)
    assert result.stopped_by == "SIGINT"
    assert result.step == 6
    assert checkpoint_steps(tmp_path)[-1] == 6
    assert signal.getsignal(signal.SIGINT) is before  # handler put back


def test_restart_sets_the_previous_run_aside(tmp_path):
    config = tiny_task.tiny_config(num_steps=6)
    train(config, tmp_path)
    config.loop.update(restart=True, num_steps=3)
    result = train(config, tmp_path)
    assert result.task.positions_started == [(0, 0)]
    assert checkpoint_steps(tmp_path) == [0, 3]
    previous = list((tmp_path / "previous").iterdir())
    assert len(previous) == 1
    assert sorted(p.name for p in previous[0].iterdir()) == ["checkpoints", "tensorboard"]


def test_checkpoint_of_another_model_is_a_checkpoint_error(tmp_path):
    config = tiny_task.tiny_config(num_steps=2)
    train(config, tmp_path)
    config.filters = 4
    with pytest.raises(errors.CheckpointError, match=r"ckpt-2: does not fit this model.*loop.restart"):
        train(config, tmp_path)


@pytest.mark.parametrize("change, message", [
    (dict(num_epochs=2), "exactly one of loop.num_epochs"),
    (dict(num_steps=0), "exactly one of loop.num_epochs"),
    (dict(batch_size=0), "loop.batch_size=0 must be positive"),
    (dict(distribute="tpu"), "loop.distribute='tpu'"),
    (dict(precision="float8"), "precision 'float8'"),
])
def test_bad_loop_config_is_a_config_error(tmp_path, change, message):
    config = tiny_task.tiny_config()
    config.loop.update(change)
    with pytest.raises(errors.ConfigError, match=message):
        train(config, tmp_path)


def test_schedule_shorter_than_the_epochs_is_a_config_error(tmp_path):
    config = tiny_task.tiny_config(num_steps=0, num_epochs=6)
    with pytest.raises(errors.ConfigError, match="schedule 'noise' has 5 values but loop.num_epochs=6"):
        train(config, tmp_path)


class MisnamedOptimizer(tiny_task.TinyTask):
    def __init__(self, config, setup):
        super().__init__(config, setup)
        self.optimizers = {"generator": self.optimizers["net"]}


def test_optimizer_without_a_network_is_a_config_error(tmp_path):
    with pytest.raises(errors.ConfigError, match="optimizer 'generator' trains no known network"):
        train(tiny_task.tiny_config(), tmp_path, MisnamedOptimizer)


def test_nan_weights_behind_a_finite_loss_are_never_checkpointed(tmp_path, caplog):
    # NaN inputs alone, and a loss that skips non-finite examples: the loss stays finite while the
    # gradients turn the weights into NaN. The check before each save catches it.
    caplog.set_level(python_logging.WARNING)
    config = tiny_task.tiny_config(num_steps=20, checkpoint_every_steps=4)
    config.poison = ((1, 2, math.nan),)  # the 10th batch
    config.poison_targets = False
    result = train(config, tmp_path)
    assert result.rollbacks == 1
    assert "step 12: non-finite weights after the update; rolled back to" in caplog.text
    assert all(np.isfinite(w).all() for w in tiny_task.weights(result.task).values())
    assert checkpoints_are_finite(tmp_path)
    assert result.step == 20 and result.position == (3, 3)  # steps 9-12 undone: 24 batches


def test_guard_judges_finiteness_always_and_spikes_after_enough_history():
    guard = checkpoint.LossGuard(spike_multiple=10.0, window=5, min_history=3, watch=("d",))
    assert guard.problem({"d": math.inf}) == "loss 'd' is inf"
    assert guard.problem({"d": 100.0}) is None  # no history yet
    for value in (1.0, 2.0, 1.5):
        guard.record({"d": value, "w": -value})
    assert guard.problem({"d": 14.9, "w": -1.0}) is None  # median 1.5: the limit is 15
    assert "over 10x its running median 1.5" in guard.problem({"d": 15.1, "w": -1.0})
    assert guard.problem({"d": 1.0, "w": 1e9}) is None  # not watched
    assert guard.problem({"d": 1.0, "w": math.nan}) == "loss 'w' is nan"  # but always checked for NaN
    negative = checkpoint.LossGuard(spike_multiple=10.0, min_history=1)
    negative.record({"critic": -2.0})
    assert negative.problem({"critic": 50.0}) is None  # a negative median says nothing about spikes


@pytest.mark.slow  # two training runs, one compiled by XLA: ~15 s
def test_jit_compile_option_trains(tmp_path, monkeypatch):
    compiled = []  # names of the functions given to tf.function with jit_compile=True
    plain_function = tf.function

    def spy(*args, **kwargs):
        if kwargs.get("jit_compile") and args:
            compiled.append(getattr(args[0], "__name__", None))
        return plain_function(*args, **kwargs)

    monkeypatch.setattr(tf, "function", spy)
    results = {}
    for jit in (True, None):  # None: the device decides, and on this CPU it says no XLA
        compiled.clear()
        config = tiny_task.tiny_config(num_steps=6, jit_compile=jit)
        config.dropout, config.noise_schedule = 0.0, [0.0] * 5  # XLA draws random numbers its own way
        results[jit] = train(config, tmp_path / str(jit))
        assert ("replica_step" in compiled) == bool(jit), compiled  # the loop's step, XLA-compiled or not
    result = results[True]
    assert result.step == 6 and result.traces == 1
    # XLA computes the same training as the oneDNN graph, to float rounding.
    for name, value in results[None].losses.items():
        assert math.isfinite(value) and result.losses[name] == pytest.approx(value, rel=1e-4, abs=1e-6)


def test_guard_goes_back_to_the_history_of_the_checkpoint_it_rolls_back_to():
    # Early losses are high; by the time of a spike the median is low. After rolling back to the
    # early checkpoint, the early (high) losses must not count as spikes against the late median.
    guard = checkpoint.LossGuard(spike_multiple=10.0, window=10, min_history=3)
    for value in (2.0, 1.9, 1.8):
        guard.record({"gan": value})
    at_checkpoint = guard.snapshot()
    for value in (0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01):
        guard.record({"gan": value})
    assert "over 10x" in guard.problem({"gan": 1.9})
    guard.restore(at_checkpoint)
    assert guard.problem({"gan": 1.9}) is None
    assert "over 10x" in guard.problem({"gan": 19.5})  # median 1.9
    guard.record({"gan": 1.7})
    assert len(at_checkpoint["gan"]) == 3  # the snapshot is a copy
