"""clip.condition_frame: which frame of a clip the conditional generator's encoder and the conditional critic see."""
import numpy as np
import pytest
import tensorflow as tf

from relive import models
from relive import train
from tests.relive import test_train as train_tests
from videocore import errors


@pytest.mark.parametrize("which, index", [("middle", 4), ("first", 0), ("last", 7), ("3", 3), ("-2", 6), (5, 5)])
def test_condition_index_names_and_numbers(which, index):
    assert models.condition_index(which, 8) == index
    clips = tf.constant(np.arange(8, dtype=np.float32)[None, :, None, None, None] * np.ones((2, 8, 4, 4, 3)))
    assert np.all(models.condition_frame(clips, which).numpy() == index)


@pytest.mark.parametrize("which", ["8", "-9", "centre", ""])
def test_a_frame_outside_the_clip_or_an_unknown_name_is_a_config_error(which):
    with pytest.raises(errors.ConfigError, match="condition_frame"):
        models.condition_index(which, 8)


@pytest.mark.parametrize("which, index", [("first", 0), ("2", 2), ("last", 7)])
def test_the_chosen_frame_is_what_the_encoder_and_the_critic_see(config_for, tmp_path, which, index):
    config = config_for("conditional", "gradient")
    config.clip.condition_frame = which
    task = train.GanTask(config, train_tests._setup(tmp_path, 2))
    steps, frames = config.critic.steps, config.clip.num_frames
    # Clip k of the batch has the value k + t / 100 at frame t: a photo says which clip and frame it is.
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
    task.train_step(batch, train_tests.StubContext())
    expected = [k + index / 100.0 for k in range(steps + 1)]
    np.testing.assert_allclose(np.concatenate(seen["generator"]), expected)
    assert sorted({round(float(p[0]), 6) for p in seen["critic"]}) == pytest.approx(expected)


def test_a_bad_condition_frame_fails_before_training(config_for, tmp_path):
    config = config_for("conditional", "gradient")
    config.clip.condition_frame = "40"
    with pytest.raises(errors.ConfigError, match="outside a clip of 8 frames"):
        train.train_and_evaluate(config, tmp_path)
    assert not (tmp_path / "checkpoints").exists()
