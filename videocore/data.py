"""tf.data pipelines over frame stores: shuffled frames, ordered frames, clips, class folders.

Every pipeline yields floats in [-1, 1] in the dtype asked for (the compute dtype), and the
random ones are pure functions of (seed, position), so a resumed run continues the very
order an uninterrupted run would have taken.
"""

import dataclasses
import logging
import pathlib
from typing import List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from videocore import errors
from videocore import framestore
from videocore import video

log = logging.getLogger(__name__)
AUTOTUNE = tf.data.AUTOTUNE


def to_float(frames, dtype=tf.float32):
    """uint8 [0, 255] -> `dtype` in [-1, 1]."""
    return tf.cast(tf.cast(frames, tf.float32) / 127.5 - 1.0, dtype)


def to_uint8(frames):
    """Floats in [-1, 1] (any float dtype) -> uint8 [0, 255], rounded and clipped."""
    frames = tf.cast(frames, tf.float32)
    return tf.cast(tf.clip_by_value(tf.round((frames + 1.0) * 127.5), 0.0, 255.0), tf.uint8)


def to_uint8_numpy(frames) -> np.ndarray:
    """numpy twin of `to_uint8`."""
    frames = np.asarray(frames, dtype=np.float32)
    return np.clip(np.round((frames + 1.0) * 127.5), 0, 255).astype(np.uint8)


def _as_stores(sources, size=None, **kwargs) -> List[framestore.FrameStore]:
    if isinstance(sources, framestore.FrameStore):
        return [sources]
    if isinstance(sources, (list, tuple)) and sources and all(isinstance(s, framestore.FrameStore) for s in sources):
        return list(sources)
    if size is None:
        raise errors.ConfigError("a frame size is needed to decode videos into a frame store")
    return framestore.load_stores(sources, size=size, **kwargs)


def _check_same_size(stores):
    sizes = {store.frames.shape[1:] for store in stores}
    if len(sizes) != 1:
        raise errors.ConfigError(f"frame stores differ in size: {sorted(sizes)}")


# ----------------------------------------------------------------------------- shuffled frames


def steps_per_epoch(stores, batch_size: int) -> int:
    """Whole batches in one pass over every frame (the remainder is left to the next epoch's shuffle)."""
    stores = _as_stores(stores)
    total = sum(len(s) for s in stores)
    if total < batch_size:
        names = ", ".join(str(s.source) for s in stores)
        raise errors.ConfigError(f"{names}: {total} frames is shorter than one batch of {batch_size}")
    return total // batch_size


def epoch_permutation(total: int, seed: int, epoch: int) -> np.ndarray:
    """The frame order of one epoch: a permutation of range(total) fixed by (seed, epoch)."""
    return np.random.Generator(np.random.PCG64([int(seed), int(epoch)])).permutation(total)


def shuffled_indices(total: int, batch_size: int, seed: int, position: Tuple[int, int] = (0, 0),
                     epochs: Optional[int] = None):
    """Yields (epoch, batch_index, frame indices (B,)) of a true global shuffle, from `position` on.

    Each epoch is a fresh permutation of all `total` frames; an epoch has total // batch_size
    batches. `position` = (epoch, batch_index) of the first batch to yield.
    """
    steps = total // batch_size
    epoch, index = (int(p) for p in position)
    while epochs is None or epoch < epochs:
        order = epoch_permutation(total, seed, epoch)
        for batch in range(index, steps):
            yield epoch, batch, order[batch * batch_size:(batch + 1) * batch_size]
        epoch, index = epoch + 1, 0


def shuffled_batches(stores, batch_size: int, seed: int, position: Tuple[int, int] = (0, 0),
                     dtype=tf.float32, epochs: Optional[int] = None, with_position: bool = False,
                     size=None, **store_kwargs) -> tf.data.Dataset:
    """Batches (B, H, W, 3) in [-1, 1] drawn from a global shuffle of every frame of every store.

    stores: FrameStores (or video paths with `size=(w, h)` to build them).
    position: (epoch, batch_index) to start from, e.g. restored from a checkpoint.
    with_position: also yield the position (epoch, batch_index) of each batch, as int64 (2,).
    """
    stores = _as_stores(stores, size=size, **store_kwargs)
    _check_same_size(stores)
    steps_per_epoch(stores, batch_size)  # raises if there is not one batch of frames
    offsets = np.cumsum([0] + [len(s) for s in stores])
    total = int(offsets[-1])
    height, width = stores[0].frames.shape[1:3]

    def indices():
        for epoch, batch, frame_indices in shuffled_indices(total, batch_size, seed, position, epochs):
            yield np.array([epoch, batch], np.int64), frame_indices.astype(np.int64)

    def gather(frame_indices):
        # Sorted reads are kinder to the page cache; the batch keeps the shuffled order.
        out = np.empty((len(frame_indices), height, width, 3), np.uint8)
        store_of = np.searchsorted(offsets, frame_indices, side="right") - 1
        for slot in np.argsort(frame_indices):
            store = store_of[slot]
            out[slot] = stores[store].frames[frame_indices[slot] - offsets[store]]
        return out

    dataset = tf.data.Dataset.from_generator(
        indices,
        output_signature=(tf.TensorSpec((2,), tf.int64), tf.TensorSpec((batch_size,), tf.int64)))

    def load(where, frame_indices):
        frames = tf.numpy_function(gather, [frame_indices], tf.uint8, stateful=False)
        frames = tf.ensure_shape(frames, (batch_size, height, width, 3))
        frames = to_float(frames, dtype)
        return (frames, where) if with_position else frames

    return dataset.map(load, num_parallel_calls=AUTOTUNE, deterministic=True).prefetch(AUTOTUNE)


# ----------------------------------------------------------------------------- ordered frames


def ordered_batches(source, batch_size: int, dtype=tf.float32, *, size=None, aspect=None, start=None,
                    end=None) -> tf.data.Dataset:
    """Every frame in order, in batches (B, H, W, 3) in [-1, 1]; the last batch may be smaller.

    source: a FrameStore, or a video path streamed straight from the decoder (with optional
    crop `aspect`, resize `size` = (w, h) and time range) without building a store.
    dtype=tf.uint8 keeps the frames as they are (uint8 [0, 255]).
    """
    if isinstance(source, framestore.FrameStore):
        frames = source.frames
        height, width = frames.shape[1:3]

        def generate():
            for i in range(0, len(frames), batch_size):
                yield np.asarray(frames[i:i + batch_size])
    else:
        info = video.probe(source)
        width, height = size if size is not None else _cropped_size(info, aspect)

        def generate():
            batch = []
            for frame in video.read_frames(source, start=start, end=end, aspect=aspect, size=size):
                batch.append(frame)
                if len(batch) == batch_size:
                    yield np.stack(batch)
                    batch = []
            if batch:
                yield np.stack(batch)

    dataset = tf.data.Dataset.from_generator(
        generate, output_signature=tf.TensorSpec((None, height, width, 3), tf.uint8))
    if tf.as_dtype(dtype) != tf.uint8:
        dataset = dataset.map(lambda x: to_float(x, dtype), num_parallel_calls=AUTOTUNE)
    return dataset.prefetch(AUTOTUNE)


def _cropped_size(info, aspect):
    _, _, w, h = video.crop_box(info.width, info.height, video.parse_aspect(aspect))
    return w, h


# ----------------------------------------------------------------------------- clips


def clip_span(num_frames: int, stride: int) -> int:
    """Source frames covered by a clip of `num_frames` taken every `stride` frames."""
    return (num_frames - 1) * stride + 1


def clip_starts(length: int, num_frames: int, stride: int, hop: Optional[int] = None) -> np.ndarray:
    """Start frames of the sliding windows over a video of `length` frames (hop defaults to the span)."""
    span = clip_span(num_frames, stride)
    hop = hop or span
    if length < span:
        return np.zeros((0,), np.int64)
    return np.arange(0, length - span + 1, hop, dtype=np.int64)


def random_clip(lengths: Sequence[int], num_frames: int, stride: int, seed: int, index: int) -> Tuple[int, int]:
    """(video, start) of the `index`-th random clip: a pure function of (seed, index), so resumable.

    Videos are drawn in proportion to how many clip starts they have.
    """
    span = clip_span(num_frames, stride)
    starts = np.array([max(0, n - span + 1) for n in lengths], np.float64)
    rng = np.random.Generator(np.random.PCG64([int(seed), int(index), 7]))
    which = int(rng.choice(len(lengths), p=starts / starts.sum()))
    return which, int(rng.integers(0, starts[which]))


def _usable_clip_stores(stores, num_frames, stride, loop_short):
    span = clip_span(num_frames, stride)
    usable = []
    for store in stores:
        if len(store) >= span:
            usable.append(store)
        elif loop_short:
            repeats = -(-span // len(store))
            usable.append(framestore.FrameStore.from_array(np.concatenate([store.frames] * repeats), store.fps,
                                                           store.source))
        else:
            log.warning("%s: %d frames is shorter than a clip of %d frames (stride %d); skipped",
                        store.source, len(store), num_frames, stride)
    if not usable:
        names = ", ".join(str(s.source) for s in stores[:3]) + (" ..." if len(stores) > 3 else "")
        raise errors.VideoError(names, f"no video has the {span} frames a clip of {num_frames} frames with stride "
                                       f"{stride} needs (use loop_short to loop short videos)")
    return usable


def clips(sources, num_frames: int, batch_size: int, *, size=None, stride: int = 1, mode: str = "random",
          seed: int = 0, position: int = 0, hop: Optional[int] = None, loop_short: bool = False,
          dtype=tf.float32, labels: Optional[Sequence[int]] = None, **store_kwargs) -> tf.data.Dataset:
    """Clips (B, T, H, W, 3) in [-1, 1] of T = `num_frames` frames taken every `stride` frames.

    mode="random": an endless stream of clips at random places; clip k depends only on
      (seed, k), and `position` is the number of clips already drawn (for resuming).
    mode="sliding": every window, in order (hop frames apart), once; the last batch may be smaller.
    Videos shorter than one clip are skipped with a warning, or looped with `loop_short`.
    With `labels` (one per source), yields (clips, labels (B,)).
    """
    if mode not in ("random", "sliding"):
        raise errors.ConfigError(f"clip mode must be 'random' or 'sliding', got {mode!r}")
    if num_frames < 1 or stride < 1:
        raise errors.ConfigError(f"num_frames ({num_frames}) and stride ({stride}) must be at least 1")
    stores = _as_stores(sources, size=size, **store_kwargs)
    _check_same_size(stores)
    if labels is not None:
        label_of = {id(s): int(label) for s, label in zip(stores, labels)}
    stores = _usable_clip_stores(stores, num_frames, stride, loop_short)
    if labels is not None:
        label_of = [label_of.get(id(s), -1) for s in stores]
    height, width = stores[0].frames.shape[1:3]
    lengths = [len(s) for s in stores]

    def take(which, start):
        return np.asarray(stores[which].frames[start:start + clip_span(num_frames, stride):stride])

    if mode == "random":
        def generate():
            index = int(position)
            while True:
                batch, batch_labels = [], []
                for _ in range(batch_size):
                    which, start = random_clip(lengths, num_frames, stride, seed, index)
                    batch.append(take(which, start))
                    batch_labels.append(label_of[which] if labels is not None else 0)
                    index += 1
                yield np.stack(batch), np.array(batch_labels, np.int64)
        batch_dim = batch_size
    else:
        windows = [(w, int(s)) for w, n in enumerate(lengths) for s in clip_starts(n, num_frames, stride, hop)]

        def generate():
            for i in range(0, len(windows), batch_size):
                chunk = windows[i:i + batch_size]
                yield (np.stack([take(w, s) for w, s in chunk]),
                       np.array([label_of[w] if labels is not None else 0 for w, _ in chunk], np.int64))
        batch_dim = None

    dataset = tf.data.Dataset.from_generator(generate, output_signature=(
        tf.TensorSpec((batch_dim, num_frames, height, width, 3), tf.uint8),
        tf.TensorSpec((batch_dim,), tf.int64)))

    def convert(frames, batch_labels):
        frames = to_float(frames, dtype)
        return (frames, batch_labels) if labels is not None else frames

    return dataset.map(convert, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)


# ----------------------------------------------------------------------------- folders and TFDS


@dataclasses.dataclass(frozen=True)
class VideoFolder:
    """Videos in class sub-folders (UCF-101 layout: root/ClassName/video.avi)."""

    root: pathlib.Path
    paths: Tuple[pathlib.Path, ...]
    labels: Tuple[int, ...]
    class_names: Tuple[str, ...]


def video_folder(root) -> VideoFolder:
    """Finds the videos under `root`; the first folder level names the class (sorted -> label)."""
    root = pathlib.Path(root)
    paths = video.find_videos(root)
    class_names = sorted({p.relative_to(root).parts[0] for p in paths if len(p.relative_to(root).parts) > 1})
    if not class_names:
        class_names = [""]
    index = {name: i for i, name in enumerate(class_names)}
    labels = [index.get(p.relative_to(root).parts[0], 0) if len(p.relative_to(root).parts) > 1 else 0
              for p in paths]
    return VideoFolder(root, tuple(paths), tuple(labels), tuple(class_names))


def tfds_clips(name: str, num_frames: int, batch_size: int, *, size, split: str = "train", seed: int = 0,
               dtype=tf.float32) -> tf.data.Dataset:
    """Random clips from a TensorFlow Datasets video set (e.g. "ucf101"); needs tensorflow-datasets and
    the internet the first time (TFDS downloads and prepares the set)."""
    try:
        import tensorflow_datasets as tfds  # optional: only for users who are online
    except ImportError:
        raise errors.UserInputError(
            f"dataset {name!r}: TFDS needs `pip install tensorflow-datasets` (and internet to download it); "
            "or give a folder of videos in class sub-folders instead") from None
    try:
        dataset = tfds.load(name, split=split, shuffle_files=True)
    except Exception as error:  # TFDS raises many types for "not found" / "offline"
        raise errors.UserInputError(f"dataset {name!r}: {error}".splitlines()[0]) from None
    width, height = size

    def crop(index, example):
        frames = example["video"]  # (T_total, H, W, 3) uint8
        total = tf.shape(frames)[0]
        start = tf.random.stateless_uniform((), seed=tf.stack([tf.cast(seed, tf.int64), index]),
                                            maxval=total - num_frames + 1, dtype=tf.int32)
        clip = tf.image.resize(frames[start:start + num_frames], (height, width), method="area")
        return to_float(clip, dtype)  # resize gives float32 in [0, 255]

    return dataset.filter(lambda e: tf.shape(e["video"])[0] >= num_frames).enumerate().map(
        crop, num_parallel_calls=AUTOTUNE).batch(batch_size, drop_remainder=True).prefetch(AUTOTUNE)
