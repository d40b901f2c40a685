"""TensorBoard writing: scalars, image grids (also saved as PNG), animated clips, text, histograms, hparams."""
import dataclasses
import io
import os
import pathlib
import platform
import tempfile

import numpy as np
import PIL.Image
import tensorflow as tf

from videocore import data
from videocore import files


def to_uint8_images(images):
    """(N, H, W, C) uint8, or float in [-1, 1] -> uint8 (N, H, W, 3). C may be 1 or 3."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"images must be (N, H, W, 1 or 3), got shape {images.shape}")
    if images.dtype != np.uint8:
        images = data.to_uint8_numpy(images)
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    return images


def image_grid(images, columns=None, padding=2):
    """Tiles N images into one uint8 (rows*(H+p)+p, columns*(W+p)+p, 3) image on black.

    images: (N, H, W, C) uint8, or float in [-1, 1]. columns defaults to ceil(sqrt(N)).
    """
    images = to_uint8_images(images)
    count, height, width, _ = images.shape
    columns = columns or int(np.ceil(np.sqrt(count)))
    rows = int(np.ceil(count / columns))
    grid = np.zeros((rows * (height + padding) + padding, columns * (width + padding) + padding, 3),
                    np.uint8)
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        top = padding + row * (height + padding)
        left = padding + column * (width + padding)
        grid[top:top + height, left:left + width] = image
    return grid


def save_png(path, image):
    """Writes an (H, W, 3) uint8 image as PNG under a temp name, then renames it to `path`."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".png")
    try:
        with os.fdopen(handle, "wb") as file:
            PIL.Image.fromarray(image).save(file, format="PNG")
        files.publish(temp, path)
    except BaseException:
        pathlib.Path(temp).unlink(missing_ok=True)
        raise


def save_jpeg(path, image, max_bytes=150_000):
    """Writes an (H, W, 3) uint8 image as a JPEG of fewer than `max_bytes` bytes (figures for docs/).

    Quality 90, 80, 70, then 60; if none fits, the image is shrunk to 3/4 and tried again (8 times at
    most). Written only once it fits, so `path` is never a half-written or oversized figure.
    Returns `path`; ValueError when even the smallest version is too large.
    """
    path = pathlib.Path(path)
    picture = PIL.Image.fromarray(np.asarray(image, np.uint8))
    for _ in range(8):
        for quality in (90, 80, 70, 60):
            buffer = io.BytesIO()
            picture.save(buffer, "JPEG", quality=quality)
            if buffer.tell() < max_bytes:
                with files.atomic_path(path) as temp:
                    temp.write_bytes(buffer.getvalue())
                return path
        picture = picture.resize((max(1, picture.width * 3 // 4), max(1, picture.height * 3 // 4)),
                                 PIL.Image.LANCZOS)
    raise ValueError(f"{path}: cannot get the figure under {max_bytes} bytes")


def median_step_time(workdir, skip_steps=1):
    """Median seconds per training step of the run in `workdir` (its logged perf/step_time_s), or None.

    The first `skip_steps` steps are left out: they include tracing and compiling the step.
    """
    try:
        values = read_back(pathlib.Path(workdir) / "tensorboard", tag="perf/step_time_s")
    except KeyError:
        return None
    times = [float(value) for step, _, value in values if step > skip_steps]
    return float(np.median(times)) if times else None


def config_markdown(config):
    """A ConfigDict (or anything printable) as a markdown code block for the TEXT dashboard."""
    text = config.to_json_best_effort(indent=2) if hasattr(config, "to_json_best_effort") else str(config)
    # Four-space indentation is a markdown code block; TensorBoard renders text summaries as markdown.
    return "\n".join("    " + line for line in text.splitlines())


def environment_markdown(**facts):
    """Versions of Python / TF / Keras / numpy plus `facts` (precision, device...) as a markdown table."""
    import keras  # imported here: summaries otherwise needs only tf.summary

    rows = dict(facts)
    rows.update(python=platform.python_version(), tensorflow=tf.__version__,
                keras=keras.__version__, numpy=np.__version__, host=platform.node())
    lines = ["| what | value |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in rows.items()]
    return "\n".join(lines)


def config_hparams(config):
    """A (nested) ConfigDict or dict as flat {"section.name": bool / int / float / str} for the HParams tab.

    Values the plugin cannot hold (tuples, None, ...) become their text.
    """
    values = config.to_dict() if hasattr(config, "to_dict") else dict(config)
    flat = {}

    def visit(prefix, value):
        if isinstance(value, dict):
            for key, item in value.items():
                visit(f"{prefix}{key}.", item)
        elif isinstance(value, (bool, int, float, str)):
            flat[prefix[:-1]] = value
        else:
            flat[prefix[:-1]] = str(value)

    visit("", values)
    return flat


def gif_bytes(frames, fps):
    """frames (T, H, W, 3) uint8 or float in [-1, 1] -> a looping GIF, encoded in memory."""
    images = [PIL.Image.fromarray(frame) for frame in to_uint8_images(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], loop=0,
                   duration=int(round(1000 / fps)), optimize=False)
    return buffer.getvalue()


@dataclasses.dataclass
class Clip:
    """A task's `sample` may return these beside images: frames (T, H, W, 3) uint8 / float in [-1, 1]
    that the loop writes as an animated GIF summary (`Writer.animations`)."""

    frames: np.ndarray
    fps: float


class Writer:
    """Writes summaries to one TensorBoard run directory; does nothing when `enabled` is False.

    Only the chief of a multi-worker job should write: the other workers get a disabled Writer.
    """

    def __init__(self, logdir, enabled=True):
        self.logdir = pathlib.Path(logdir)
        self.enabled = enabled
        self._writer = tf.summary.create_file_writer(str(self.logdir)) if enabled else None

    def scalars(self, step, values):
        """values: {tag: float}."""
        if not self.enabled:
            return
        with self._writer.as_default(step=step):
            for tag, value in values.items():
                tf.summary.scalar(tag, float(value))

    def images(self, step, images, max_outputs=1):
        """images: {tag: (H, W, 3) or (N, H, W, C) uint8 / float in [-1, 1]} written as-is."""
        if not self.enabled:
            return
        with self._writer.as_default(step=step):
            for tag, value in images.items():
                tf.summary.image(tag, to_uint8_images(value), max_outputs=max_outputs)

    def text(self, step, texts):
        """texts: {tag: markdown string}."""
        if not self.enabled:
            return
        with self._writer.as_default(step=step):
            for tag, value in texts.items():
                tf.summary.text(tag, value)

    def histograms(self, step, values):
        """values: {tag: array or variable}; statistics are taken in float32."""
        if not self.enabled:
            return
        with self._writer.as_default(step=step):
            for tag, value in values.items():
                tf.summary.histogram(tag, tf.cast(tf.convert_to_tensor(value), tf.float32))

    def hparams(self, config):
        """The run's config as hyperparameters (TensorBoard's HParams tab, to compare the runs of a sweep).

        The tab's metric columns are the run's scalars (eval/... are the final quality figures).
        """
        if not self.enabled:
            return
        from tensorboard.plugins.hparams import api as hparams_api  # only writers of hparams need it

        with self._writer.as_default():
            hparams_api.hparams(config_hparams(config))

    def animations(self, step, clips, fps):
        """clips: {tag: (T, H, W, 3) uint8 / float in [-1, 1]} as animated GIFs in the Images tab.

        tf.summary.image would store T separate PNGs; the image plugin serves any encoded image, and a
        browser plays a GIF.
        """
        if not self.enabled:
            return
        from tensorboard.plugins.image import metadata as image_metadata

        with self._writer.as_default(step=step):
            for tag, frames in clips.items():
                encoded = gif_bytes(frames, fps)
                height, width = to_uint8_images(frames[:1]).shape[1:3]
                # The image plugin's layout: [width, height, encoded image, ...] as strings.
                tensor = tf.constant([str(width), str(height), encoded])
                tf.summary.write(tag, tensor, metadata=image_metadata.create_summary_metadata(
                    display_name=None, description=f"{len(frames)} frames at {fps:g} fps (GIF)"))

    def close(self):
        if self.enabled:
            self._writer.close()


def read_back(logdir, tag=None):
    """What a run wrote, read with TensorBoard's own reader (benchmarks and tests use it).

    Returns {tag: [(step, wall_time, numpy value), ...]} in step order, or that list for one `tag`.
    """
    from tensorboard.backend.event_processing import event_accumulator  # only readers need it

    accumulator = event_accumulator.EventAccumulator(str(logdir), size_guidance={event_accumulator.TENSORS: 0})
    accumulator.Reload()
    tags = [tag] if tag is not None else accumulator.Tags()["tensors"]
    values = {}
    for name in tags:
        events = sorted(accumulator.Tensors(name), key=lambda event: event.step)
        values[name] = [(event.step, event.wall_time, tf.make_ndarray(event.tensor_proto)) for event in events]
    return values[tag] if tag is not None else values
