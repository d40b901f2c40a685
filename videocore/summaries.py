"""TensorBoard writing for training: scalars, image grids (also saved as PNG), text and histograms."""
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

    def flush(self):
        if self.enabled:
            self._writer.flush()

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
