"""Frame store (build, reuse, rebuild) and the tf.data pipelines: shuffle, resume, order, clips."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from tests import synthetic
from videocore import data
from videocore import errors
from videocore import framestore
from videocore import video


@pytest.fixture
def clip_path(tmp_path):
    return synthetic.write_video(tmp_path / "clip.mp4", num_frames=30, width=64, height=48, fps=25)


def _index_store(count, height=4, width=6):
    """A store whose frame i is filled with the value i: batches reveal which frames they hold."""
    frames = np.broadcast_to(np.arange(count, dtype=np.uint8)[:, None, None, None], (count, height, width, 3))
    return framestore.FrameStore.from_array(frames, fps=25)


def _frame_ids(batch):
    return np.round((batch.numpy()[:, 0, 0, 0] + 1.0) * 127.5).astype(int).tolist()


def test_store_is_built_once_reused_and_rebuilt_when_the_source_changes(clip_path, tmp_path):
    cache = tmp_path / "cache"
    store = framestore.FrameStore.open_or_build(clip_path, size=(32, 24), cache_dir=cache, progress=False)
    assert len(store) == 30 and store.size == (32, 24) and store.fps == 25
    assert isinstance(store.frames, np.memmap)
    np.testing.assert_array_equal(store.frames[:], video.read_all(clip_path, size=(32, 24)))
    folder = next(p for p in cache.iterdir() if not p.name.startswith("."))
    manifest = json.loads((folder / framestore.MANIFEST).read_text())
    assert manifest["count"] == 30 and manifest["source_bytes"] == clip_path.stat().st_size
    built_at = (folder / framestore.FRAMES).stat().st_mtime_ns

    again = framestore.FrameStore.open_or_build(clip_path, size=(32, 24), cache_dir=cache, progress=False)
    assert (folder / framestore.FRAMES).stat().st_mtime_ns == built_at
    assert len(again) == 30

    # Another size is another store; an edited source makes the old store stale.
    assert len(framestore.FrameStore.open_or_build(clip_path, size=(16, 12), cache_dir=cache, progress=False)) == 30
    synthetic.write_video(clip_path, num_frames=20, width=64, height=48, fps=25)
    os.utime(clip_path, ns=(built_at + 10**9, built_at + 10**9))
    rebuilt = framestore.FrameStore.open_or_build(clip_path, size=(32, 24), cache_dir=cache, progress=False)
    assert len(rebuilt) == 20
    assert not [p for p in cache.iterdir() if p.name.endswith(".partial")]


def test_store_with_time_range_and_crop(clip_path, tmp_path):
    store = framestore.FrameStore.open_or_build(clip_path, size=(16, 16), aspect="1:1", start=0.2, end=0.6,
                                                cache_dir=tmp_path, progress=False)
    assert store.frames.shape == (10, 16, 16, 3)


def test_failed_build_leaves_no_store(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    with pytest.raises(errors.VideoError):
        framestore.FrameStore.open_or_build(bad, size=(16, 16), cache_dir=tmp_path / "cache", progress=False)
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").iterdir())


def test_shuffle_is_a_permutation_per_epoch_reproducible_and_resumable():
    store = _index_store(36)
    batches = list(data.shuffled_batches([store], 6, seed=3, epochs=3))
    assert len(batches) == 3 * data.steps_per_epoch([store], 6) == 18
    epochs = [sum((_frame_ids(b) for b in batches[e * 6:(e + 1) * 6]), []) for e in range(3)]
    for order in epochs:
        assert sorted(order) == list(range(36))  # every frame exactly once: a true global shuffle
    assert epochs[0] != epochs[1] != epochs[2]
    assert epochs[0] != list(range(36))

    same_seed = [_frame_ids(b) for b in data.shuffled_batches([store], 6, seed=3, epochs=3)]
    assert same_seed == [_frame_ids(b) for b in batches]
    other_seed = [_frame_ids(b) for b in data.shuffled_batches([store], 6, seed=4, epochs=1)]
    assert other_seed != [_frame_ids(b) for b in batches[:6]]

    # Interrupted after 8 batches (epoch 1, batch 2): resuming there gives exactly the rest.
    seen = list(data.shuffled_batches([store], 6, seed=3, epochs=3, with_position=True).take(8))
    last_position = seen[-1][1].numpy().tolist()
    assert last_position == [1, 1]
    resumed = data.shuffled_batches([store], 6, seed=3, epochs=3, position=(1, 2))
    assert [_frame_ids(b) for b in resumed] == [_frame_ids(b) for b in batches[8:]]


def test_shuffle_over_several_videos_and_remainders():
    first, second = _index_store(10), _index_store(7)
    second = framestore.FrameStore.from_array(second.frames + 100, fps=25)
    batches = list(data.shuffled_batches([first, second], 4, seed=0, epochs=1))
    assert len(batches) == 17 // 4
    ids = sum((_frame_ids(b) for b in batches), [])
    assert len(set(ids)) == 16 and set(ids) <= set(range(10)) | set(range(100, 107))


def test_shuffle_needs_one_batch_and_same_sizes():
    with pytest.raises(errors.ConfigError, match="shorter than one batch"):
        data.shuffled_batches([_index_store(5)], 12, seed=0)
    with pytest.raises(errors.ConfigError, match="differ in size"):
        data.shuffled_batches([_index_store(20), _index_store(20, height=8)], 4, seed=0)


def test_batches_are_in_range_and_in_the_compute_dtype():
    store = framestore.FrameStore.from_array(np.array([0, 255], np.uint8).repeat(24).reshape(2, 2, 4, 3), fps=25)
    batch = next(iter(data.shuffled_batches([store], 2, seed=0, dtype=tf.bfloat16)))
    assert batch.dtype == tf.bfloat16
    values = sorted(set(batch.numpy().astype(np.float32).ravel().tolist()))
    assert values == [-1.0, 1.0]
    assert data.to_uint8(tf.constant([-1.0, 0.0, 1.0, 1.5])).numpy().tolist() == [0, 128, 255, 255]


def test_ordered_batches_keep_order_and_the_last_partial_batch(clip_path):
    store = _index_store(23)
    batches = list(data.ordered_batches(store, 5))
    assert [b.shape[0] for b in batches] == [5, 5, 5, 5, 3]
    assert sum((_frame_ids(b) for b in batches), []) == list(range(23))
    streamed = list(data.ordered_batches(clip_path, 8, size=(32, 24)))
    assert [tuple(b.shape) for b in streamed] == [(8, 24, 32, 3)] * 3 + [(6, 24, 32, 3)]


def test_sliding_clips_shapes_and_strides():
    store = _index_store(40)
    assert data.clip_span(8, 3) == 22
    assert data.clip_starts(40, 8, 3, hop=5).tolist() == [0, 5, 10, 15]
    batches = list(data.clips([store], 8, 3, stride=3, mode="sliding", hop=5))
    assert [tuple(b.shape) for b in batches] == [(3, 8, 4, 6, 3), (1, 8, 4, 6, 3)]
    first = np.round((batches[0].numpy()[:, :, 0, 0, 0] + 1) * 127.5).astype(int)
    assert first[1].tolist() == list(range(5, 5 + 22, 3))


def test_random_clips_are_contiguous_strided_and_resumable():
    store = _index_store(50)
    stream = data.clips([store], 4, 2, stride=2, seed=9)
    batches = [b.numpy() for b in stream.take(3)]
    for batch in batches:
        ids = np.round((batch[:, :, 0, 0, 0] + 1) * 127.5).astype(int)
        assert (np.diff(ids, axis=1) == 2).all()
    resumed = next(iter(data.clips([store], 4, 2, stride=2, seed=9, position=4)))
    np.testing.assert_array_equal(resumed.numpy(), batches[2])


def test_short_videos_are_skipped_or_looped():
    short = _index_store(5)  # frames 0..4
    long = framestore.FrameStore.from_array(  # frames 100..119: a clip tells which store it came from
        np.broadcast_to(np.arange(100, 120, dtype=np.uint8)[:, None, None, None], (20, 4, 6, 3)), fps=25)

    def ids(batch):  # (B, T) frame values
        return np.round((batch.numpy()[..., 0, 0, 0] + 1.0) * 127.5).astype(int)

    skipped = ids(next(iter(data.clips([short, long], 8, 16, seed=0))))
    assert skipped.shape == (16, 8)
    assert (skipped >= 100).all() and (np.diff(skipped, axis=1) == 1).all()  # only the long video, in order
    assert len(set(skipped[:, 0])) > 1  # at several places in it
    with pytest.raises(errors.VideoError, match="loop_short"):
        data.clips([short], 8, 2)
    looped = ids(next(iter(data.clips([short], 8, 6, seed=0, loop_short=True))))
    assert looped.shape == (6, 8) and (looped < 5).all()
    # Looping continues from frame 4 back to frame 0: each frame is the previous one + 1, modulo 5.
    assert ((looped[:, 1:] - looped[:, :-1]) % 5 == 1).all()
    assert any(4 in row[:-1] for row in looped)  # at least one clip really wraps around


def test_class_folder_layout(tmp_path):
    for name, count in (("Biking", 2), ("Archery", 1)):
        (tmp_path / "ucf" / name).mkdir(parents=True)
        for i in range(count):
            synthetic.write_video(tmp_path / "ucf" / name / f"v_{name}_g0{i}.mp4", num_frames=12, width=32, height=24)
    folder = data.video_folder(tmp_path / "ucf")
    assert folder.class_names == ("Archery", "Biking")
    assert sorted(folder.labels) == [0, 1, 1]
    (tmp_path / "empty").mkdir()
    with pytest.raises(errors.VideoError, match="no video files"):
        data.video_folder(tmp_path / "empty")


def test_tfds_without_the_package_says_how_to_get_it():
    pytest.importorskip("tensorflow")
    try:
        import tensorflow_datasets  # noqa: F401
        pytest.skip("tensorflow-datasets is installed here")
    except ImportError:
        pass
    with pytest.raises(errors.UserInputError, match="pip install tensorflow-datasets"):
        data.tfds_clips("ucf101", 16, 2, size=(64, 64))
