"""relive training through the shared loop: a few finite steps per model, outputs on disk, what each step feeds."""
import pathlib
import zlib

import keras
import numpy as np
import PIL.Image
import pytest
import tensorflow as tf

from relive import losses
from relive import models
from relive import train
from videocore import errors
from videocore import loop
from videocore import summaries
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
    config, workdir, result = request.getfixturevalue(fixture)
    assert result.step == config.loop.num_steps and result.rollbacks == 0 and result.traces == 1
    assert result.losses and all(np.isfinite(value) for value in result.losses.values())
    assert (workdir / "checkpoints" / f"ckpt-{result.step}.index").exists()
    tags = _event_tags(workdir)
    network = "predictor" if config.model == "predictor" else "critic"
    assert any(tag.startswith(f"weights/{network}/") and "kernel" in tag for tag in tags)  # kernel histograms
    assert any(tag.startswith("samples/") for tag in tags)
    assert list((workdir / "samples").glob("*/*.png"))
    frames = config.clip.num_frames
    _check_clip_files(result.outputs, frames)
    if config.model == "predictor":
        # Held-out next-frame PSNR of the model and of copying the last frame, by the evaluate hook
        # after the last step, written in the run's own TensorBoard folder.
        assert set(result.evaluation) == {"psnr_predictor", "psnr_copy_last"}
        assert all(np.isfinite(value) and value > 0 for value in result.evaluation.values())
        assert {"eval/psnr_predictor", "eval/psnr_copy_last"} <= tags
    else:
        assert result.evaluation == {}  # eval.fid_frames = 0


@pytest.mark.slow  # a bf16 training run: ~15 s
def test_wgan_gp_steps_stay_finite_in_bfloat16(config_for, tmp_path):
    config = config_for("wgan", "gradient", precision="mixed_bfloat16", num_steps=2, sample_every_steps=0,
                        histogram_every_steps=0)
    result = train.train_and_evaluate(config, tmp_path)
    assert result.step == 2
    assert all(np.isfinite(value) for value in result.losses.values())
    assert result.losses["gradient_penalty"] >= 0
    # The penalty's gradient norms in bf16 against the same critic's in float32, by a plain tape here.
    critic = result.task.networks["critic"]
    assert critic.compute_dtype == "bfloat16"
    reference = models.video_critic(config)  # the autouse fixture has the float32 policy on
    reference.set_weights(critic.get_weights())
    clips = tf.random.stateless_uniform((3, *critic.input_shape[1:]), seed=(5, 6), minval=-1, maxval=1)
    with tf.GradientTape() as tape:
        tape.watch(clips)
        scores = tf.reduce_sum(reference(clips, training=True))
    expected = np.sqrt(np.sum(np.square(tape.gradient(scores, clips).numpy()), axis=(1, 2, 3, 4)))
    assert expected.min() > 0
    np.testing.assert_allclose(losses.gradient_norms(critic, clips).numpy(), expected, rtol=0.05)


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


@pytest.mark.slow  # InceptionV3 on CPU: about a minute on a busy 2-core machine
def test_gan_evaluate_hook_gives_per_frame_fid_against_held_out_frames(config_for, tmp_path):
    config = config_for("wgan", "gradient", num_steps=2, sample_every_steps=0, histogram_every_steps=0,
                        eval_every_steps=1)
    config.data.holdout_fraction = 0.25
    config.eval.fid_frames = 8  # one clip of 8 frames from the held-out quarter
    result = train.train_and_evaluate(config, tmp_path)
    assert set(result.evaluation) == {"fid"} and np.isfinite(result.evaluation["fid"])
    assert result.evaluation["fid"] > 0  # noise from a 2-step generator is nothing like the footage
    steps = [step for step, *_ in summaries.read_back(tmp_path / "tensorboard", "eval/fid")]
    assert steps == [1, 2]  # every step, and not again after the last


def test_evaluation_without_held_out_frames_fails_before_training(config_for, tmp_path):
    for model, field in (("predictor", "clips"), ("conditional", "fid_frames")):
        config = config_for(model, "clip")
        config.eval[field] = 2
        with pytest.raises(errors.ConfigError, match=f"eval.{field} > 0 needs held-out frames"):
            train.train_and_evaluate(config, tmp_path / model)
        assert not (tmp_path / model / "checkpoints").exists()
