"""relive data sources: folders without usable clips, short clips (error or loop), hold-out split, batch layout."""
import numpy as np
import pytest
import tensorflow as tf

from relive import configs
from relive import inputs
from tests import synthetic
from videocore import errors


def _config(source, cache, **data):
    config = configs.quick()
    config.data.source = str(source)
    config.data.cache_dir = str(cache)
    config.data.update(data)
    return config


def test_missing_source_and_empty_folder_are_video_errors(tmp_path):
    with pytest.raises(errors.VideoError, match="no such file"):
        inputs.frame_stores(_config(tmp_path / "nowhere", tmp_path / "cache"))
    (tmp_path / "empty" / "ClassA").mkdir(parents=True)
    with pytest.raises(errors.VideoError, match="no video files"):
        inputs.frame_stores(_config(tmp_path / "empty", tmp_path / "cache"))


def test_folder_of_short_clips_is_an_error_unless_looped(tmp_path):
    folder = tmp_path / "videos"
    for name in ("ClassA", "ClassB"):
        (folder / name).mkdir(parents=True)
        synthetic.write_video(folder / name / f"{name}.mp4", num_frames=5, width=32, height=24)
    (folder / "ClassB" / "broken.mp4").write_bytes(b"not a video")
    config = _config(folder, tmp_path / "cache")  # clips of 8 frames
    stores, held_out = inputs.frame_stores(config, progress=False)
    assert len(stores) == 2 and held_out == []  # the broken file is skipped
    with pytest.raises(errors.VideoError, match="loop_short"):
        inputs.random_clips(config, stores, 1, 2, 0, tf.float32)
    with pytest.raises(errors.VideoError, match=r"8 frames.*longest: 5.*data.loop_short=True"):
        inputs.check_clip_length(config, stores)
    config.data.loop_short = True
    inputs.check_clip_length(config, stores)
    clips = next(iter(inputs.random_clips(config, stores, 1, 2, 0, tf.float32))).numpy()
    assert clips.shape == (2, 8, 16, 16, 3)
    assert np.all(clips >= -1) and np.all(clips <= 1)


def test_holdout_split_and_critic_batch_layout(tmp_path):
    config = _config("bundled:carphone", tmp_path / "cache", holdout_fraction=0.25)
    stores, held_out = inputs.frame_stores(config, progress=False)
    assert len(stores[0]) == 90 and len(held_out[0]) == 30  # carphone has 120 frames
    whole, _ = inputs.frame_stores(_config("bundled:carphone", tmp_path / "cache"), progress=False)
    np.testing.assert_array_equal(held_out[0].frames[0], whole[0].frames[90])
    clips = inputs.held_out_clips(config, held_out, 5)
    assert clips.shape == (3, 8, 16, 16, 3)  # 30 frames hold 3 whole clips of 8
    batch = next(iter(inputs.random_clips(config, stores, 6, 2, 0, tf.bfloat16)))
    assert batch.shape == (2, 6, 8, 16, 16, 3) and batch.dtype == tf.bfloat16
    # Resuming at clip 12 continues the very same sequence.
    later = next(iter(inputs.random_clips(config, stores, 6, 1, 12, tf.float32)))
    following = next(iter(inputs.random_clips(config, stores, 6, 2, 0, tf.float32).skip(1)))
    np.testing.assert_array_equal(later.numpy(), following.numpy()[:1])
    with pytest.raises(errors.ConfigError, match="holdout"):
        inputs.frame_stores(_config("bundled:carphone", tmp_path / "cache", holdout_fraction=1.0))


def test_validation_source_holds_out_whole_videos(tmp_path):
    config = _config("bundled:carphone", tmp_path / "cache")
    config.data.validation_source = "bundled:bikes"
    stores, held_out = inputs.frame_stores(config, progress=False)
    assert len(stores) == 1 and len(stores[0]) == 120  # carphone whole: nothing of it is held out
    assert len(held_out) == 1 and str(held_out[0].source).endswith("bikes.mp4")
    bikes, _ = inputs.frame_stores(_config("bundled:bikes", tmp_path / "cache"), progress=False)
    np.testing.assert_array_equal(held_out[0].frames, bikes[0].frames)
    config.data.holdout_fraction = 0.25
    with pytest.raises(errors.ConfigError, match="validation_source"):
        inputs.frame_stores(config, progress=False)
