"""Shared core: video files in and out, tf.data pipelines, the training loop, export, metrics."""

import os

# TensorFlow's start-up INFO lines (oneDNN, CPU features) drown the progress output; warnings stay.
# The user's own setting is remembered: videocore.cli quietens the scripts further unless there is one.
USER_TF_LOG_LEVEL = os.environ.get("TF_CPP_MIN_LOG_LEVEL")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
