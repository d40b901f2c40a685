"""Shared core: video files in and out, tf.data pipelines, the training loop, export, metrics."""

import os

# TensorFlow's start-up INFO lines (oneDNN, CPU features) drown the progress output; warnings stay.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
