"""Reads TensorBoard event files back with TensorBoard's own reader, for the tests."""
import numpy as np
import tensorflow as tf

from videocore import summaries


def read(logdir):
    """{tag: [(step, numpy value), ...]} of every tensor summary under `logdir`, in step order."""
    return {tag: [(step, value) for step, _, value in events]
            for tag, events in summaries.read_back(logdir).items()}


def decode_image(value):
    """An image summary's value (width, height, PNG bytes...) -> the first image, uint8 (H, W, 3)."""
    return tf.io.decode_png(np.asarray(value)[2]).numpy()


def wall_times(logdir, tag):
    """Wall-clock times (s) at which the summaries of `tag` were written, in step order."""
    return [wall_time for _, wall_time, _ in summaries.read_back(logdir, tag)]


def plugin_content(logdir, tag):
    """(plugin name, plugin_data content bytes) of `tag`'s summary metadata: what e.g. HParams reads."""
    from tensorboard.backend.event_processing import event_accumulator

    accumulator = event_accumulator.EventAccumulator(str(logdir), size_guidance={event_accumulator.TENSORS: 0})
    accumulator.Reload()
    metadata = accumulator.SummaryMetadata(tag)
    return metadata.plugin_data.plugin_name, metadata.plugin_data.content
