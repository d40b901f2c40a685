"""Checkpoints for the training loop: the manager, stop-on-signal handling and the NaN / spike guard."""
import collections
import pathlib
import shutil
import signal
import tempfile
import threading

import numpy as np
import tensorflow as tf
from absl import logging

from videocore import errors


class DivergedError(errors.ConfigError):
    """Training kept producing non-finite or exploding losses after rolling back; the config must change."""


class Checkpointer:
    """Saves and restores a set of trackables (networks, optimizers, counters...) in `directory`.

    Only the chief writes to `directory`. Other workers of a multi-worker job must still call
    `save` at the same steps (saving reads distributed variables, which may need collectives);
    they write to a temp directory that is deleted straight away. Every worker restores from
    `directory`, which multi-worker jobs must therefore share.
    """

    def __init__(self, directory, objects, *, max_to_keep=3, is_chief=True):
        self.directory = pathlib.Path(directory)
        self.is_chief = is_chief
        self.checkpoint = tf.train.Checkpoint(**objects)
        if is_chief:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._manager = tf.train.CheckpointManager(
                self.checkpoint, str(self.directory), max_to_keep=max_to_keep, checkpoint_name="ckpt")

    def latest(self):
        """Path prefix of the newest complete checkpoint in `directory`, or None."""
        return tf.train.latest_checkpoint(str(self.directory))

    def save(self, number):
        """Writes checkpoint `number`; returns its path prefix (chief) or None (other workers)."""
        if self.is_chief:
            return self._manager.save(checkpoint_number=number)
        temp = tempfile.mkdtemp(prefix="videocore-worker-checkpoint-")
        try:
            self.checkpoint.write(str(pathlib.Path(temp) / "ckpt"))
        finally:
            shutil.rmtree(temp, ignore_errors=True)
        return None

    def restore(self, path=None):
        """Restores `path` (default: the latest); returns the path, or None if there is none.

        Raises CheckpointError when the checkpoint does not fit the objects (other shapes, other
        networks), naming the file and the way out.
        """
        path = path or self.latest()
        if path is None:
            return None
        try:
            status = self.checkpoint.restore(path)
            status.assert_existing_objects_matched()
            status.expect_partial()  # values no object asks for (e.g. a dropped network) are fine
        except (ValueError, AssertionError, tf.errors.OpError) as error:
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise errors.CheckpointError(
                f"{path}: does not fit this model ({first_line[:300]}); use another workdir or "
                "set loop.restart=True to start over") from None
        return path


def checkpoint_step(path):
    """The number N of a checkpoint prefix ".../ckpt-N"."""
    return int(str(path).rsplit("-", 1)[1])


class StopSignals:
    """Context manager turning SIGTERM / SIGINT into a request to stop after the current step.

    `received` holds the signal's name once one arrived. A second SIGINT (Ctrl-C twice) raises
    KeyboardInterrupt at once, for when the step itself hangs. Outside the main thread, where
    Python cannot install handlers, it does nothing.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self):
        self.received = None
        self._previous = {}

    def _handle(self, signum, frame):
        del frame
        if self.received is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.received = signal.Signals(signum).name
        logging.warning("%s received: finishing the current step, then saving a checkpoint and stopping",
                        self.received)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
        return False


class LossGuard:
    """Decides whether a step's losses are good enough to keep training from (and to checkpoint).

    A step is bad when any loss is non-finite, or when a watched loss exceeds `spike_multiple`
    times the median of its last `window` good values (once `min_history` values are known and the
    median is positive: losses that can be negative, like a Wasserstein critic's, are only checked
    for finiteness). `spike_multiple` <= 0 turns the spike test off. The history lives in memory
    only: after a resume, spikes are judged again once `min_history` good steps are seen.
    """

    def __init__(self, *, spike_multiple=10.0, window=100, min_history=20, watch=()):
        self.spike_multiple = spike_multiple
        self.min_history = min_history
        self.watch = tuple(watch)
        self._history = collections.defaultdict(lambda: collections.deque(maxlen=window))

    def problem(self, losses):
        """Returns a one-line description of what is wrong with `losses` ({name: float}), or None."""
        for name, value in losses.items():
            if not np.isfinite(value):
                return f"loss {name!r} is {value}"
        if self.spike_multiple <= 0:
            return None
        for name, value in losses.items():
            if self.watch and name not in self.watch:
                continue
            history = self._history[name]
            if len(history) < self.min_history:
                continue
            median = float(np.median(history))
            if median > 0 and value > self.spike_multiple * median:
                return (f"loss {name!r} = {value:.6g} is over {self.spike_multiple:g}x its running "
                        f"median {median:.6g}")
        return None

    def record(self, losses):
        """Adds a good step's losses to the running history."""
        for name, value in losses.items():
            self._history[name].append(float(value))

    def snapshot(self):
        """The history as it is now (taken at each checkpoint)."""
        return {name: collections.deque(values, maxlen=values.maxlen) for name, values in self._history.items()}

    def restore(self, snapshot):
        """Goes back to a `snapshot`: after a rollback the losses are judged against the medians of
        the checkpoint's time, not of later steps (an early checkpoint's losses are legitimately
        higher than a later median)."""
        self._history.clear()
        for name, values in (snapshot or {}).items():
            self._history[name] = collections.deque(values, maxlen=values.maxlen)
