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


# The groups of a training checkpoint (videocore.loop writes them, videocore.workdir reads them).
NETWORKS, OPTIMIZERS, COUNTERS, SCHEDULES = "networks", "optimizers", "counters", "schedules"
SEED_STATES, TASK_STATE = "seed_states", "task_state"


class DivergedError(errors.ConfigError):
    """Training kept producing non-finite or exploding losses after rolling back; the config must change."""


# What a damaged or unreadable checkpoint raises when read (checksum errors are DataLossError,
# a truncated data file IndexError "Read less bytes than requested", a missing shard NotFoundError,
# a broken index "not an sstable"): measured with TF 2.21.
DAMAGE_ERRORS = (tf.errors.OpError, IndexError, ValueError, OSError)


def value_key(*names):
    """The key of a checkpointed variable reached by `names` from the root, e.g. ("counters", "epoch")."""
    return "/".join(names) + "/.ATTRIBUTES/VARIABLE_VALUE"


def read_value(path, *names):
    """The value (numpy) of variable `names` (see `value_key`) in checkpoint `path`, or None if absent."""
    reader = tf.train.load_checkpoint(str(path))
    key = value_key(*names)
    return reader.get_tensor(key) if reader.has_tensor(key) else None


def damage(path):
    """None if every tensor of checkpoint `path` reads back intact, else a one-line reason.

    Reads every tensor (their checksums are checked on reading). All of them, even to restore
    networks only: a variable's key follows the first path to it in the object graph, which can
    be an optimizer's. Reading first is what tells damage from a checkpoint that does not fit the
    model: restoring a damaged file fails with the same error types.
    """
    try:
        reader = tf.train.load_checkpoint(str(path))
        for key in reader.get_variable_to_shape_map():
            reader.get_tensor(key)
    except DAMAGE_ERRORS as error:
        return _first_line(error)
    return None


def candidates(directory):
    """Checkpoint prefixes in `directory`, newest first: the `checkpoint` file's latest and its list
    (newest saved first), then any other ckpt-N.index on disk by number. Only prefixes whose
    .index exists; the `checkpoint` file may itself be missing or unreadable."""
    directory = pathlib.Path(directory)
    ordered = []
    try:
        state = tf.train.get_checkpoint_state(str(directory))
    except Exception:  # noqa: BLE001 - a garbled `checkpoint` file raises protobuf's ParseError
        state = None
    if state is not None:
        ordered += [state.model_checkpoint_path, *reversed(state.all_model_checkpoint_paths)]
    numbered = {p: _number(p.name[:-len(".index")]) for p in directory.glob("ckpt-*.index")}
    on_disk = sorted((p for p, n in numbered.items() if n is not None), key=numbered.get, reverse=True)
    ordered += [str(p)[:-len(".index")] for p in on_disk]
    result = []
    for prefix in ordered:
        prefix = str(directory / pathlib.Path(prefix).name)  # the state may hold another mount's path
        if prefix not in result and pathlib.Path(prefix + ".index").is_file():
            result.append(prefix)
    return result


def _number(name):
    try:
        return int(name.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return None


def _first_line(error):
    text = str(error).strip()
    line = text.splitlines()[0] if text else type(error).__name__
    # TF prefixes op errors with the op's name in braces: the reason follows it.
    if line.startswith("{{") and "}}" in line:
        line = line.split("}}", 1)[1].strip()
    return line[:300]


class Checkpointer:
    """Saves and restores a set of trackables (networks, optimizers, counters...) in `directory`.

    Only the chief writes to `directory`. Other workers of a multi-worker job must still call
    `save` at the same steps (saving reads distributed variables, which may need collectives);
    they write to a temp directory that is deleted straight away. Every worker restores from
    `directory`, which multi-worker jobs must therefore share.

    Damage: `restore` skips a damaged or unreadable checkpoint with one warning and uses the
    newest readable older one. A failed save (disk full...) removes its partial files, leaves the
    earlier checkpoints and the `checkpoint` file as they were and warns; a second failure in a
    row raises CheckpointError.
    """

    def __init__(self, directory, objects, *, max_to_keep=3, is_chief=True):
        self.directory = pathlib.Path(directory)
        self.is_chief = is_chief
        self.max_to_keep = max_to_keep
        self.checkpoint = tf.train.Checkpoint(**objects)
        self.failed_saves = 0
        if is_chief:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._remove_temporaries()
            self._manager = self._make_manager()

    def _make_manager(self):
        # A new manager reads the `checkpoint` file again: after a failed save its list is the disk's.
        return tf.train.CheckpointManager(
            self.checkpoint, str(self.directory), max_to_keep=self.max_to_keep, checkpoint_name="ckpt")

    def _remove_temporaries(self, number=None):
        """TF writes ckpt-N_temp/ first; a killed or failed save leaves it behind."""
        pattern = "ckpt-*_temp*" if number is None else f"ckpt-{number}_temp*"
        for path in self.directory.glob(pattern):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)

    def latest(self):
        """Path prefix of the newest checkpoint in `directory` (not checked for damage), or None."""
        found = candidates(self.directory)
        return found[0] if found else None

    def save(self, number):
        """Writes checkpoint `number`; returns its path prefix (chief) or None (other workers, or a
        failed save that left the earlier checkpoints in place)."""
        if self.is_chief:
            prefix = self.directory / f"ckpt-{number}"
            existed = {p.name for p in self.directory.glob(f"ckpt-{number}.*")}
            try:
                path = self._manager.save(checkpoint_number=number)
            except (OSError, tf.errors.OpError) as error:
                self._failed_save(number, prefix, existed, error)
                return None
            self.failed_saves = 0
            return path
        temp = tempfile.mkdtemp(prefix="videocore-worker-checkpoint-")
        try:
            self.checkpoint.write(str(pathlib.Path(temp) / "ckpt"))
        finally:
            shutil.rmtree(temp, ignore_errors=True)
        return None

    def _failed_save(self, number, prefix, existed, error):
        self._remove_temporaries(number)
        for path in self.directory.glob(f"{prefix.name}.*"):
            if path.name not in existed:  # files of an earlier save of the same number are whole
                path.unlink(missing_ok=True)
        self._manager = self._make_manager()
        self.failed_saves += 1
        reason = _first_line(error)
        if self.failed_saves >= 2:
            raise errors.CheckpointError(
                f"{self.directory}: saving checkpoint {number} failed twice in a row ({reason}); the newest "
                f"checkpoint is {self.latest()}; free some space and run again to resume from it")
        logging.warning("%s: saving checkpoint %d failed (%s); the earlier checkpoints are intact, trying again "
                        "at the next save", self.directory, number, reason)

    def restore(self, path=None):
        """Restores `path` (default: the newest readable checkpoint); returns the path restored, or
        None if there is none.

        Without `path`, a damaged or unreadable checkpoint is reported in one warning and the next
        older one is tried. Raises CheckpointError when a readable checkpoint does not fit the
        objects (other shapes, other networks), or when none is readable, naming the file and the
        way out.
        """
        paths = [str(path)] if path else candidates(self.directory)
        if not paths:
            return None
        problems = []
        for candidate in paths:
            problem = damage(candidate)
            if problem:
                logging.warning("%s: damaged or unreadable (%s); trying the next older checkpoint", candidate, problem)
                problems.append(f"{pathlib.Path(candidate).name}: {problem}")
                continue
            self._restore(candidate)
            return candidate
        raise errors.CheckpointError(
            f"{self.directory}: no readable checkpoint left ({'; '.join(problems)[:500]}); train again "
            "(loop.restart=True sets these aside)")

    def _restore(self, path):
        try:
            status = self.checkpoint.restore(path)
            status.expect_partial()  # values no object asks for (e.g. optimizer slots) are fine
            status.assert_existing_objects_matched()
        except (ValueError, AssertionError, tf.errors.OpError) as error:
            raise errors.CheckpointError(
                f"{path}: does not fit this model ({_first_line(error)}); use another workdir or "
                "set loop.restart=True to start over") from None


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
