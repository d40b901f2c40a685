"""Shared core: video files in and out, tf.data pipelines, the training loop, export, metrics."""
