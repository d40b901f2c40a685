"""Runs an absl main so that a user's mistake is one line on stderr and a non-zero exit."""

import contextlib
import errno
import importlib.abc
import importlib.util
import logging
import os
import pathlib
import signal
import sys
import tempfile

from absl import app
from absl import flags

from videocore import errors

# The folder holding videocore/, relive/, ...: config presets are named relative to it (relive/configs.py:quick),
# which holds for a checkout and for an installed package alike.
PACKAGES_ROOT = pathlib.Path(__file__).resolve().parents[1]


def _requested_verbosity(argv):
    """The absl --verbosity / -v value given on the command line, or None (also None if unparsable)."""
    for index, arg in enumerate(argv[1:], start=1):
        for name in ("--verbosity", "-v"):
            if arg == name and index + 1 < len(argv):
                value = argv[index + 1]
            elif arg.startswith(name + "="):
                value = arg[len(name) + 1:]
            else:
                continue
            try:
                return int(value)
            except ValueError:
                return None
    return None


def quiet_tensorflow(argv=None):
    """Sets TF_CPP_MIN_LOG_LEVEL so TensorFlow's C++ start-up chatter stays off a script's stderr.

    TensorFlow reads the variable once, when it is imported, so this runs when `cli` is imported
    (scripts import it before anything that imports TensorFlow). Without --verbosity the level is 3:
    the oneDNN notice, absl's "before absl::InitializeLog" line and grappler's harmless "remapper
    failed ... LeakyReluGrad" errors all go; a real failure still surfaces as a Python exception.
    An explicit --verbosity maps absl's levels onto TensorFlow's (0 or more: everything, -1: warnings
    and up, -2: errors, -3: fatal only); a variable the user already set is left alone.
    """
    import videocore  # its __init__ set level 1 for library use; what the user set before that counts

    if videocore.USER_TF_LOG_LEVEL is not None or "tensorflow" in sys.modules:
        return  # the user's choice, or too late to matter (and children would inherit it unasked)
    verbosity = _requested_verbosity(sys.argv if argv is None else argv)
    level = 3 if verbosity is None else min(3, max(0, -verbosity))
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = str(level)
    if level == 3 and not any(isinstance(finder, _QuietImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _QuietImport())


# Start-up lines TensorFlow 2.21 writes through absl's C++ logging while it is imported. Before
# absl::InitializeLog that logging ignores TF_CPP_MIN_LOG_LEVEL, so on CPUs where oneDNN is on by
# default (AVX512_BF16, AMX...) "oneDNN custom operations are on" reached a script's stderr anyway.
START_UP_CHATTER = ("All log messages before absl::InitializeLog", "port.cc:", "cpu_feature_guard.cc:",
                    "To enable the following instructions:")


@contextlib.contextmanager
def _start_up_chatter_filtered():
    """Collects what is written to file descriptor 2 meanwhile and writes it back without START_UP_CHATTER."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as collected:
        os.dup2(collected.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            collected.seek(0)
            lines = collected.read().decode("utf-8", "replace").splitlines(keepends=True)
            kept = "".join(line for line in lines if not any(text in line for text in START_UP_CHATTER))
            if kept:
                os.write(2, kept.encode("utf-8"))


class _QuietImport(importlib.abc.MetaPathFinder):
    """Imports `tensorflow`, the first time anything does, with its start-up chatter filtered out."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once; and the finders below find the real module
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _FilteredLoader(spec.loader)
        return spec


class _FilteredLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        with _start_up_chatter_filtered():
            self._loader.exec_module(module)

    def __getattr__(self, name):  # everything else (get_filename, resource readers...) as the real loader
        return getattr(self._loader, name)


quiet_tensorflow()


def config_flag(default, help):  # noqa: A002 - absl's own name for the argument
    """Defines --config from a preset named relative to the packages, e.g. `relive/configs.py:quick`.

    Any field can then be overridden as --config.NAME=VALUE (ml_collections.config_flags).
    """
    from ml_collections import config_flags

    path, _, preset = default.partition(":")
    location = f"{PACKAGES_ROOT / path}:{preset}" if preset else str(PACKAGES_ROOT / path)
    holder = config_flags.DEFINE_config_file("config", location, help)
    # absl files a flag under the module that defined it (this one); --help lists the script's flags,
    # so file it under the calling script too (absl names __main__ after sys.argv[0]).
    caller = sys._getframe(1).f_globals.get("__name__", "")
    flags.FLAGS.register_flag_by_module(sys.argv[0] if caller == "__main__" else caller, flags.FLAGS[holder.name])
    return holder


def check_flags(choices=(), positive=(), fractions=(), flag_values=None):
    """Checks a script's parsed flags; raises ConfigError naming the first bad one (`run` prints it as one line).

    choices: (list flag, allowed values) pairs; positive: names of numeric flags that must be > 0;
    fractions: names of float flags that must lie strictly between 0 and 1. flag_values: absl's
    FLAGS unless given.
    """
    values = flag_values or flags.FLAGS
    for name, allowed in choices:
        unknown = [value for value in values[name].value if value not in allowed]
        if unknown:
            raise errors.ConfigError(f"--{name}: unknown {', '.join(unknown)}; choose from {', '.join(allowed)}")
    for name in positive:
        if not values[name].value > 0:
            raise errors.ConfigError(f"--{name}={values[name].value}: must be positive")
    for name in fractions:
        if not 0 < values[name].value < 1:
            raise errors.ConfigError(f"--{name}={values[name].value}: must be in (0, 1)")


# A write that failed for lack of room: a full disk, a file-size limit, a quota.
DISK_FULL = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)


def _terminate(signum, frame):
    """SIGTERM unwinds the stack like Ctrl-C: temporary outputs are removed on the way out."""
    del signum, frame
    raise errors.Stopped("SIGTERM", "stopped by SIGTERM; no partial output was left")


# Python-side INFO lines of the libraries under us, e.g. TensorFlow's "functional_saver.py:440]
# Sharding callback duration" at every checkpoint and TensorBoard's reader's "No path found after".
LIBRARY_PATHS = (f"{os.sep}tensorflow{os.sep}", f"{os.sep}keras{os.sep}", f"{os.sep}tensorboard{os.sep}",
                 f"{os.sep}tf_keras{os.sep}")


class _LibraryInfoFilter(logging.Filter):
    """Drops records below WARNING that come from LIBRARY_PATHS: users see our lines and real warnings."""

    def filter(self, record):
        return record.levelno >= logging.WARNING or not any(part in record.pathname for part in LIBRARY_PATHS)


def _drop_library_info_lines():
    """Installs _LibraryInfoFilter on absl's handler (where TensorFlow's Python logger ends up) once."""
    from absl import logging as absl_logging

    handler = absl_logging.get_absl_handler()
    if not any(isinstance(f, _LibraryInfoFilter) for f in handler.filters):
        handler.addFilter(_LibraryInfoFilter())


def run(main):
    """`app.run(main)`, printing `UserInputError`s (bad file, flag or config) as one line, exit 1."""
    script = sys.modules.get(main.__module__)
    entry_point = sys.modules.get("__main__")
    if script is not None and entry_point is not None and entry_point is not script:
        # A console script (nv-...): absl's --help shows the docstring and flags of __main__, which is
        # setuptools' stub here; lend it the script module's so `nv-x --help` reads like `python -m`.
        if not entry_point.__doc__:
            entry_point.__doc__ = script.__doc__
        for flag in flags.FLAGS.get_flags_for_module(script.__name__):
            flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)

    def guarded(argv):
        if _requested_verbosity(sys.argv) is None:
            _drop_library_info_lines()
        # SIGTERM (a scheduler's stop, `kill`) unwinds like Ctrl-C, so every output being written is
        # removed by its atomic writer on the way out; training installs its own handler meanwhile
        # (finish the step, save, stop).
        signal.signal(signal.SIGTERM, _terminate)
        try:
            return main(argv)
        except errors.UserInputError as error:
            print(f"error: {error}", file=sys.stderr)
            sys.exit(1)
        except errors.Stopped as stop:
            print(stop.message, file=sys.stderr)
            sys.stdout.flush()
            sys.stderr.flush()
            # Outputs are already cleaned up on the way here. A signal that landed while tf.data ran a
            # Python generator also fails that op, and TensorFlow reports it from its own threads or at
            # interpreter shutdown, after this line; leaving now keeps the message the last word.
            os._exit(128 + signal.Signals[stop.signal_name])
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            sys.exit(130)
        except OSError as error:
            if error.errno not in DISK_FULL:
                raise
            where = f"{error.filename}: " if error.filename else ""
            print(f"error: {where}{os.strerror(error.errno)} while writing; no partial output was left",
                  file=sys.stderr)
            sys.exit(1)

    app.run(guarded)
