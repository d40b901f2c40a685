"""Reads TensorBoard event files back with TensorBoard's own reader, for the tests."""
import numpy as np
import tensorflow as tf
from tensorboard.backend.event_processing import event_accumulator


def read(logdir):
    """{tag: [(step, numpy value), ...]} of every tensor summary under `logdir`, in step order."""
    accumulator = event_accumulator.EventAccumulator(
        str(logdir), size_guidance={event_accumulator.TENSORS: 0})
    accumulator.Reload()
    values = {}
    for tag in accumulator.Tags()["tensors"]:
        events = sorted(accumulator.Tensors(tag), key=lambda event: event.step)
        values[tag] = [(event.step, tf.make_ndarray(event.tensor_proto)) for event in events]
    return values


def decode_image(value):
    """An image summary's value (width, height, PNG bytes...) -> the first image, uint8 (H, W, 3)."""
    return tf.io.decode_png(np.asarray(value)[2]).numpy()


def wall_times(logdir, tag):
    """Wall-clock times (s) at which the summaries of `tag` were written, in step order."""
    accumulator = event_accumulator.EventAccumulator(
        str(logdir), size_guidance={event_accumulator.TENSORS: 0})
    accumulator.Reload()
    return [event.wall_time for event in sorted(accumulator.Tensors(tag), key=lambda event: event.step)]
