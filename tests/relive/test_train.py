"""relive training through the shared loop: a few finite steps per model, outputs on disk, what each step feeds."""
import pathlib
import zlib

import keras
import numpy as np
import PIL.Image
import pytest
import tensorflow as tf

from relive import losses
from relive import optimizers
from relive import train
from videocore import errors
from videocore import loop
from videocore import video


def _event_tags(workdir):
    tags = set()
    for path in pathlib.Path(workdir, "tensorboard").glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            tags.update(value.tag for value in event.summary.value)
    return tags


def _check_clip_files(paths, frames):
    gif, mp4 = sorted(paths, key=lambda p: p.suffix)
    assert gif.suffix == ".gif" and mp4.suffix == ".mp4"
    with PIL.Image.open(gif) as image:
        assert image.n_frames == frames
        size = image.size
    info = video.probe(mp4)
    assert info.frame_count == frames
    assert (info.width, info.height) == size


@pytest.mark.parametrize("fixture", ["trained_wgan", "trained_conditional", "trained_predictor"])
def test_a_few_steps_stay_finite_and_write_checkpoint_summaries_and_samples(fixture, request):
    config, workdir, outcome = request.getfixturevalue(fixture)
    result = outcome.result
    assert result.step == config.loop.num_steps and result.rollbacks == 0 and result.traces == 1
    assert result.losses and all(np.isfinite(value) for value in result.losses.values())
    assert (workdir / "checkpoints" / f"ckpt-{result.step}.index").exists()
    tags = _event_tags(workdir)
    network = "predictor" if config.model == "predictor" else "critic"
    assert any(tag.startswith(f"weights/{network}/") and "kernel" in tag for tag in tags)  # kernel histograms
    assert any(tag.startswith("samples/") for tag in tags)
    assert list((workdir / "samples").glob("*/*.png"))
    frames = config.clip.num_frames
    _check_clip_files(outcome.outputs, frames)
    if config.model == "predictor":
        # Held-out next-frame PSNR of the model and of copying the last frame.
        assert set(outcome.evaluation) == {"predictor", "copy_last"}
        assert all(np.isfinite(value) and value > 0 for value in outcome.evaluation.values())


def test_wgan_gp_steps_stay_finite_in_bfloat16(config_for, tmp_path):
    config = config_for("wgan", "gradient", precision="mixed_bfloat16", num_steps=2, sample_every_steps=0,
                        histogram_every_steps=0)
    outcome = train.train_and_evaluate(config, tmp_path)
    assert outcome.result.step == 2
    assert all(np.isfinite(value) for value in outcome.result.losses.values())
    assert outcome.result.losses["gradient_penalty"] >= 0


class StubContext:
    """The parts of videocore.loop.StepContext a train step uses, eagerly; records the minimised losses."""

    def __init__(self):
        self.minimised = []

    def seed(self, tag):
        return tf.constant([1, zlib.crc32(tag.encode())], tf.int64)

    def minimize(self, tape, loss, name):
        self.minimised.append((name, float(loss)))


def _setup(tmp_path, batch):
    return loop.Setup(strategy=tf.distribute.get_strategy(), policy="float32", global_batch=batch, num_replicas=1,
                      is_chief=True, workdir=tmp_path, seed=0)


def test_conditional_step_conditions_every_network_on_frame_t_over_2(config_for, tmp_path):
    config = config_for("conditional", "gradient")
    task = train.GanTask(config, _setup(tmp_path, 2))
    steps, frames = config.critic.steps, config.clip.num_frames
    # Clip k of the batch has the value k + t / 100 at frame t.
    values = np.arange(steps + 1)[:, None] + np.arange(frames)[None, :] / 100.0
    batch = tf.constant(np.broadcast_to(values[None, :, :, None, None, None], (2, steps + 1, frames, 16, 16, 3)),
                        tf.float32)
    seen = {"generator": [], "critic": []}

    def generator(inputs, training):
        photo, noise = inputs
        seen["generator"].append(np.unique(photo.numpy()))
        return tf.zeros([2, frames, 16, 16, 3]) + noise[:, :1, None, None, None]

    def critic(inputs, training):
        clips, photo = inputs
        seen["critic"].append(np.unique(photo.numpy()))
        return tf.reduce_mean(clips, axis=[1, 2, 3, 4])[:, None]

    task.networks = {"generator": generator, "critic": critic}
    context = StubContext()
    logged = task.train_step(batch, context)
    middle = frames // 2 / 100.0
    expected = [k + middle for k in range(steps + 1)]
    # One generator call per critic step, then the generator step on the extra batch.
    np.testing.assert_allclose(np.concatenate(seen["generator"]), expected)
    assert all(len(photos) == 1 for photos in seen["critic"])
    assert sorted({round(float(p[0]), 6) for p in seen["critic"]}) == pytest.approx(expected)
    assert [name for name, _ in context.minimised] == ["critic"] * steps + ["generator"]
    assert set(logged) == {"critic", "generator", "wasserstein_distance", "gradient_penalty"}


def test_predictor_step_is_teacher_forced_next_frame_l2(config_for, tmp_path):
    config = config_for("predictor")
    task = train.PredictorTask(config, _setup(tmp_path, 2))
    clips = tf.random.uniform([2, config.clip.num_frames, 16, 16, 3], -1, 1, seed=7)
    context = StubContext()
    logged = task.train_step(clips, context)
    expected = losses.l2_prediction_loss(task.networks["predictor"](clips[:, :-1]), clips[:, 1:])
    assert float(logged["l2"]) == pytest.approx(float(expected), rel=1e-5)
    assert float(logged["copy_last_l2"]) == pytest.approx(
        float(np.mean((clips.numpy()[:, :-1] - clips.numpy()[:, 1:]) ** 2)), rel=1e-5)
    assert context.minimised[0][0] == "predictor"


def test_unknown_model_and_bad_sizes_fail_before_training(config_for, tmp_path):
    config = config_for("wgan")
    config.model = "vae"
    with pytest.raises(errors.ConfigError, match="vae"):
        train.train_and_evaluate(config, tmp_path)
    config = config_for("wgan")
    config.clip.frame_size = 24
    with pytest.raises(errors.ConfigError, match="latent"):
        train.train_and_evaluate(config, tmp_path)
    assert not (tmp_path / "checkpoints").exists()


def test_fused_adam_matches_keras_adam():
    start = np.random.default_rng(3).normal(size=(40, 7)).astype(np.float32)
    results = []
    for optimizer_class in (keras.optimizers.Adam, optimizers.FusedAdam):
        variable = keras.Variable(start.copy())
        optimizer = optimizer_class(1e-2, beta_1=0.0, beta_2=0.9)
        optimizer.build([variable])
        step = tf.function(lambda gradient: optimizer.apply_gradients([(gradient, variable)]))
        for index in range(4):
            step(tf.constant(np.cos(np.arange(280) * (index + 1)).reshape(40, 7), tf.float32))
        results.append(variable.numpy())
    assert np.abs(results[0] - start).max() > 1e-3
    np.testing.assert_allclose(results[1], results[0], atol=1e-6)
