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
