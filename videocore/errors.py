"""Errors that mean "the user's input is wrong", printed by the scripts as one line."""


class UserInputError(Exception):
    """A problem with something the user gave us (a file, a flag, a config value).

    Scripts catch this, print `str(error)` on one line and exit non-zero; nothing else
    about it is special. Subclasses say which kind of input was wrong.
    """


class VideoError(UserInputError):
    """A video (or image / folder of videos) that cannot be used, and why."""

    def __init__(self, path, reason):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ConfigError(UserInputError):
    """A configuration value or flag that cannot work (e.g. schedule shorter than the epochs)."""


class CheckpointError(UserInputError):
    """A checkpoint that does not fit the model asked for (other resolution, latent size...)."""


class Stopped(KeyboardInterrupt):
    """A run stopped by a signal (SIGTERM from a scheduler or `kill`, SIGINT), after cleaning up.

    Like KeyboardInterrupt it is no Exception, so no `except Exception` swallows it; the scripts
    print `message` on one line and exit with 128 + the signal's number, as a shell would.
    """

    def __init__(self, signal_name, message):
        self.signal_name = signal_name
        self.message = message
        super().__init__(message)
