"""The latent sequence model: shapes, MDN likelihood, temperature, truncated-BPTT batches, carried state, resume."""

import fractions
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from videocore import errors
from videocore import loop
from vaegan_video.latent_dream import latents
from vaegan_video.latent_dream import models as latent_models
from vaegan_video.latent_dream import losses as latent_losses
from vaegan_video.latent_dream import configs as latent_configs
from vaegan_video.latent_dream import input_pipeline
from vaegan_video.latent_dream import train as latent_train


def _stream(mu, log_var=None):
    mu = np.asarray(mu, np.float32)
    log_var = np.zeros_like(mu) if log_var is None else np.asarray(log_var, np.float32)
    return latents.LatentSequence(mu=mu, log_var=log_var, fps=fractions.Fraction(25), source="synthetic")


def _indexed_stream(count, dim=3, offset=0):
    """Latents that say which frame they are: z[f] = (offset + f, offset + f, ...)."""
    return _stream(np.repeat(np.arange(offset, offset + count, dtype=np.float32)[:, None], dim, axis=1))


# ----------------------------------------------------------------------------- model


def test_default_model_at_full_size_has_the_expected_shapes_and_parameters():
    config = latent_configs.default()
    dim, units, mixtures = 200, config.model.units, config.model.num_mixtures  # the dissertation's z
    model = latent_models.build(config.model, dim)
    outputs = model([tf.zeros((2, 7, dim)), *latent_models.zero_states(model, 2)])
    assert outputs["logits"].shape == (2, 7, mixtures)
    assert outputs["means"].shape == outputs["log_sigmas"].shape == (2, 7, mixtures, dim)
    assert [s.shape for s in outputs["states"]] == [(2, units), (2, units)]
    lstm = 4 * (units * (dim + units) + units)
    heads = (units + 1) * (mixtures + 2 * mixtures * dim)
    assert model.count_params() == lstm + heads
    seed = latent_models.build(latent_configs.seed().model, dim)
    assert seed.count_params() == lstm + (units + 1) * dim


def test_residual_head_predicts_the_change():
    config = latent_configs.tiny().model
    config.head = "l2"
    model = latent_models.build(config, 4)
    for variable in model.get_layer("next_latent").weights:
        variable.assign(tf.zeros_like(variable))
    z = tf.random.normal((1, 5, 4))
    prediction = model([z, *latent_models.zero_states(model, 1)])["prediction"]
    np.testing.assert_allclose(prediction.numpy(), z.numpy(), atol=1e-6)  # zero change = copy the last latent


# ----------------------------------------------------------------------------- losses


def _numpy_log_likelihood(logits, means, log_sigmas, target):
    """log sum_k pi_k prod_d N(target_d; m_kd, s_kd^2) with plain densities, float64."""
    logits, means, log_sigmas, target = (np.asarray(a, np.float64) for a in (logits, means, log_sigmas, target))
    weights = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    sigmas = np.exp(log_sigmas)
    density = np.exp(-0.5 * ((target[..., None, :] - means) / sigmas) ** 2) / (np.sqrt(2 * np.pi) * sigmas)
    return np.log((weights * density.prod(-1)).sum(-1))


def test_mixture_log_likelihood_matches_a_numpy_computation():
    rng = np.random.default_rng(0)
    shape = (2, 3)  # (B, T)
    logits = rng.normal(size=shape + (4,))
    means = rng.normal(size=shape + (4, 5))
    log_sigmas = rng.uniform(-1.0, 0.5, size=shape + (4, 5))
    target = rng.normal(size=shape + (5,))
    got = latent_losses.mixture_log_likelihood(*(tf.constant(a, tf.float32) for a in (logits, means, log_sigmas, target)))
    assert got.shape == shape
    np.testing.assert_allclose(got.numpy(), _numpy_log_likelihood(logits, means, log_sigmas, target), rtol=1e-5)
    # One component, one dimension: the Gaussian log-density by hand.
    one = latent_losses.mixture_log_likelihood(tf.zeros((1, 1, 1)), tf.fill((1, 1, 1, 1), 0.5),
                                          tf.fill((1, 1, 1, 1), float(np.log(2.0))), tf.fill((1, 1, 1), 1.5))
    assert one.numpy().item() == pytest.approx(-0.5 * (1.0 / 2.0) ** 2 - np.log(2.0) - 0.5 * np.log(2 * np.pi),
                                               rel=1e-6)


def test_nll_and_l2_average_over_valid_steps_only():
    rng = np.random.default_rng(1)
    logits, means = rng.normal(size=(2, 3, 2)), rng.normal(size=(2, 3, 2, 4))
    log_sigmas, target = rng.normal(size=(2, 3, 2, 4)) * 0.1, rng.normal(size=(2, 3, 4))
    mask = np.array([[1, 1, 0], [1, 0, 0]], np.float32)
    reference = -_numpy_log_likelihood(logits, means, log_sigmas, target)[mask > 0].mean() / 4
    got = latent_losses.mixture_nll(*(tf.constant(a, tf.float32) for a in (logits, means, log_sigmas, target)), mask)
    assert float(got) == pytest.approx(reference, rel=1e-5)
    prediction = rng.normal(size=(2, 3, 4))
    expected = ((prediction - target) ** 2).mean(-1)[mask > 0].mean()
    assert float(latent_losses.l2_loss(prediction, target, mask)) == pytest.approx(expected, rel=1e-5)
    assert float(latent_losses.l2_loss(prediction, target, np.zeros_like(mask))) == 0.0


def test_temperature_towards_zero_gives_the_mode():
    rng = np.random.default_rng(2)
    outputs = {"logits": tf.constant(rng.normal(size=(3, 4, 5)) * 2, tf.float32),
               "means": tf.constant(rng.normal(size=(3, 4, 5, 6)), tf.float32),
               "log_sigmas": tf.constant(rng.normal(size=(3, 4, 5, 6)) * 0.3, tf.float32)}
    mode = latent_models.mode_next(outputs).numpy()
    best = outputs["logits"].numpy().argmax(-1)
    np.testing.assert_array_equal(mode, np.take_along_axis(outputs["means"].numpy(), best[..., None, None], 2)[:, :, 0])
    np.testing.assert_array_equal(latent_models.sample_next(outputs, 0.0, [1, 2]).numpy(), mode)
    near_zero = latent_models.sample_next(outputs, 1e-6, [3, 4]).numpy()
    np.testing.assert_allclose(near_zero, mode, atol=1e-2)
    hot = latent_models.sample_next(outputs, 1.0, [3, 4]).numpy()
    assert np.abs(hot - mode).max() > 0.1  # at tau = 1 the draws do wander off the mode


def test_sampling_at_temperature_one_follows_the_mixture():
    # Two components in 1-D with weights 0.25 / 0.75 far apart: the draws split accordingly.
    count = 4000
    outputs = {"logits": tf.constant(np.log([[[0.25, 0.75]]] * count).reshape(count, 1, 2), tf.float32),
               "means": tf.constant(np.tile([[-5.0], [5.0]], (count, 1, 1, 1)).reshape(count, 1, 2, 1), tf.float32),
               "log_sigmas": tf.fill((count, 1, 2, 1), float(np.log(0.5)))}
    draws = latent_models.sample_next(outputs, 1.0, [7, 8]).numpy().ravel()
    assert abs((draws > 0).mean() - 0.75) < 0.03
    assert abs(draws[draws > 0].std() - 0.5) < 0.05
    cool = latent_models.sample_next(outputs, 0.25, [7, 8]).numpy().ravel()
    assert (cool > 0).mean() > 0.95  # logits / tau sharpens the weights towards the heavier component


# ----------------------------------------------------------------------------- batches


def test_consecutive_steps_are_consecutive_frames_and_windows_continue_each_lane():
    stream = _indexed_stream(200)
    layout = input_pipeline.Layout((200,), lanes=3, window=5, seed=1)
    z = input_pipeline.epoch_latents([stream], 0, seed=1, z_noise=0.0)
    previous_end = None
    for index in range(layout.steps_per_epoch):
        inputs, mask, reset = layout.window_frames(0, index)
        frames_in, frames_out = z[inputs][..., 0], z[inputs + 1][..., 0]
        np.testing.assert_array_equal(np.diff(frames_in, axis=1), 1)  # step t+1 is the next frame
        np.testing.assert_array_equal(frames_out, frames_in + 1)  # the target is the frame after the input
        if previous_end is not None:
            np.testing.assert_array_equal(frames_in[:, 0], previous_end + 1)  # window k+1 goes on from window k
        previous_end = frames_in[:, -1]
        assert mask.all() and (reset == (1 if index == 0 else 0)).all()
    starts = layout.window_frames(0, 0)[0][:, 0]
    assert len(set(starts)) == 3 and np.all(np.diff(starts) == layout.lane_length)  # lanes do not overlap


def test_windows_crossing_into_the_next_video_are_masked_and_reset():
    layout = input_pipeline.Layout((19, 40), lanes=2, window=4, shift_windows=False)
    video = layout.video_of
    found = False
    for index in range(layout.steps_per_epoch):
        inputs, mask, reset = layout.window_frames(0, index)
        for lane in range(2):
            first = video(inputs[lane, 0])
            same = video(inputs[lane] + 1) == first
            np.testing.assert_array_equal(mask[lane], same.astype(np.float32))
            if index and video(inputs[lane, 0] - layout.window) != first:
                assert reset[lane] == 1
                found = True
    assert found  # the layout above does cross from video 0 into video 1 inside a lane
    inputs, mask, _ = layout.window_frames(0, 4)  # frames 16..19 of lane 0: 18 -> 19 is the cut
    assert inputs[0, 0] == 16 and mask[0].tolist() == [1, 1, 0, 0]
    assert layout.window_frames(0, 5)[2].tolist() == [1, 0]  # lane 0 starts video 1 afresh


def test_each_epoch_shifts_the_windows_and_redraws_z():
    stream = _stream(np.zeros((60, 2)), np.zeros((60, 2)))
    layout = input_pipeline.Layout((60,), lanes=2, window=6, seed=3)
    shifts = {layout.shift(epoch) for epoch in range(10)}
    assert len(shifts) > 1 and all(0 <= s < 6 for s in shifts)
    assert layout.steps_per_epoch == ((60 - 5) // 2 - 1) // 6  # the same in every epoch
    for epoch in range(10):
        inputs, _, _ = layout.window_frames(epoch, layout.steps_per_epoch - 1)
        assert inputs.max() + 1 < 60
    a, b = (input_pipeline.epoch_latents([stream], e, seed=0, z_noise=0.1) for e in (0, 1))
    assert not np.allclose(a, b)
    np.testing.assert_array_equal(a, input_pipeline.epoch_latents([stream], 0, seed=0, z_noise=0.1))
    assert abs(a.std() - 0.1) < 0.02  # sigma = exp(0.5 * 0) = 1, scaled by z_noise
    kept = [input_pipeline.epoch_latents([stream], e, seed=0, z_noise=0.1, resample=False) for e in (0, 1)]
    np.testing.assert_array_equal(*kept)


def test_latents_too_short_for_the_batch():
    with pytest.raises(errors.ConfigError, match="too few for 4 lanes"):
        input_pipeline.Layout((40,), lanes=4, window=16)


# ----------------------------------------------------------------------------- training on the loop


def _config(num_steps=3):
    config = latent_configs.tiny()
    config.loop.num_steps = num_steps
    config.loop.batch_size = 2
    config.train.window = 5
    config.data.shift_windows = False
    config.data.z_noise = 0.0
    return config


def _streams():
    rng = np.random.default_rng(4)
    walk = np.cumsum(rng.normal(size=(60, 3)) * 0.1, axis=0)
    return [_stream(np.tanh(walk))]


def test_the_state_carries_across_consecutive_windows(tmp_path):
    config = _config(num_steps=3)
    config.optimizer.learning_rate = 0.0  # the weights stay put, so the state is the model's alone
    streams = _streams()
    result = loop.train(lambda setup: latent_train.SequenceTask(config, setup, streams, 0.0), config, tmp_path)
    task = result.task
    assert result.step == 3
    # Each lane's carried state must be what the LSTM has after reading all 3 windows in one go.
    lanes = task.layout.window_frames(0, 0)[0][:, 0]
    whole = np.stack([streams[0].mu[start:start + 3 * 5] for start in lanes])
    expected = task.model([tf.constant(whole), *latent_models.zero_states(task.model, 2)])["states"]
    for variable, state in zip(task.carried, expected):
        np.testing.assert_allclose(variable.numpy(), state.numpy(), atol=1e-5)
    # ...and not what it has after the last window alone (a reset or a lost state would give that).
    last = np.stack([streams[0].mu[start + 10:start + 15] for start in lanes])
    alone = task.model([tf.constant(last), *latent_models.zero_states(task.model, 2)])["states"]
    assert np.abs(task.carried[1].numpy() - alone[1].numpy()).max() > 1e-3


@pytest.mark.slow  # two trainings and a resume: ~16 s; test_the_state_carries_across_consecutive_windows stays fast
def test_the_state_is_reset_at_each_epoch_and_survives_resume(tmp_path):
    config = _config(num_steps=2)
    streams = _streams()
    steps = None

    def make_task(setup):
        nonlocal steps
        task = latent_train.SequenceTask(config, setup, streams, 0.0)
        steps = task.steps_per_epoch
        return task

    first = loop.train(make_task, config, tmp_path / "a")
    carried = [v.numpy().copy() for v in first.task.carried]
    config.loop.num_steps = 4
    resumed = loop.train(make_task, config, tmp_path / "a")  # resumes at step 2 with the carried state
    straight_config = _config(num_steps=4)
    straight = loop.train(lambda setup: latent_train.SequenceTask(straight_config, setup, streams, 0.0),
                          straight_config, tmp_path / "b")
    for a, b in zip(resumed.task.carried, straight.task.carried):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)
    for a, b in zip(resumed.task.model.weights, straight.task.model.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)
    assert any(np.abs(c).max() > 0 for c in carried)
    # A batch that starts an epoch reads zero states whatever is carried.
    batch = next(iter(first.task.make_dataset((1, 0), 2)))
    assert batch["reset"].numpy().tolist() == [1.0, 1.0] and steps == first.task.steps_per_epoch
    assert all(np.abs(s.numpy()).max() == 0 for s in first.task.initial_states(batch))


def test_evaluation_scores_held_out_frames_against_copying_the_last_latent(tmp_path):
    config = _config(num_steps=2)
    streams = _streams()
    result = loop.train(lambda setup: latent_train.SequenceTask(config, setup, streams, 0.0), config, tmp_path)
    figures = latent_train.evaluate(result.task.model, streams, 0.25, chunk=7)
    mu = streams[0].mu
    copy_last = np.mean(np.square(mu[44:-1] - mu[45:]))
    assert figures["frames"] == 15
    assert figures["mse_copy_last"] == pytest.approx(copy_last, rel=1e-5)
    predicted = latent_models.expected_next(result.task.model([tf.constant(mu[None, :-1]),
                                                          *latent_models.zero_states(result.task.model, 1)]))
    assert figures["mse"] == pytest.approx(float(np.mean(np.square(predicted.numpy()[0, 44:] - mu[45:]))), rel=1e-4)
    assert figures["ratio"] == pytest.approx(figures["mse"] / figures["mse_copy_last"])
    assert np.isfinite(figures["nll"])


def test_z_noise_follows_the_sigma_the_vaegan_last_trained_with(tmp_path):
    schedule = [0.25, 0.1, 0.05]
    for epoch, index, expected in ((1, 3, 0.1), (2, 0, 0.1), (3, 0, 0.05), (9, 0, 0.05)):
        counters = tf.train.Checkpoint(epoch=tf.Variable(epoch, dtype=tf.int64),
                                       index=tf.Variable(index, dtype=tf.int64))
        saved = tf.train.Checkpoint(counters=counters, schedules={"noise": tf.Variable(schedule)})
        path = saved.write(str(tmp_path / f"ckpt-{epoch}-{index}"))
        assert latents.last_noise(path, [9.0]) == pytest.approx(expected)
    bare = tf.train.Checkpoint(other=tf.Variable(1.0)).write(str(tmp_path / "bare"))
    assert latents.last_noise(bare, [0.3, 0.2]) == pytest.approx(0.2)  # no schedule in it: config.json's last


@pytest.mark.slow  # two replicas and a one-device run: ~9 s
def test_two_replicas_carry_the_same_state_as_one(tmp_path):
    """Each replica writes its own lanes' rows; the table after 3 steps must match a one-replica run."""
    code = f"""
import sys, numpy as np
sys.path.insert(0, {str(pathlib.Path(__file__).resolve().parents[3])!r})
from videocore import loop
from vaegan_video.latent_dream import train as latent_train
from tests.vaegan_video.latent_dream import test_train as here
config = here._config(num_steps=3)
config.optimizer.learning_rate = 0.0
config.loop.distribute, config.loop.cpu_replicas = "mirrored", 2
result = loop.train(lambda setup: latent_train.SequenceTask(config, setup, here._streams(), 0.0), config,
                    {str(tmp_path / 'mirrored')!r})
assert result.task.model.distribute_strategy.num_replicas_in_sync == 2
np.save({str(tmp_path / 'carried.npy')!r}, np.stack([v.numpy() for v in result.task.carried]))
"""
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300, capture_output=True)
    config = _config(num_steps=3)
    config.optimizer.learning_rate = 0.0
    result = loop.train(lambda setup: latent_train.SequenceTask(config, setup, _streams(), 0.0), config,
                        tmp_path / "one")
    expected = np.stack([v.numpy() for v in result.task.carried])
    assert np.abs(expected).max() > 0
    np.testing.assert_allclose(np.load(tmp_path / "carried.npy"), expected, atol=1e-6)
