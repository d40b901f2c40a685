"""Writing outputs safely: a temporary name beside the target, renamed into place only when complete."""

import os
import pathlib


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def publish(temp, path) -> pathlib.Path:
    """Renames the finished `temp` file or folder to `path`, with the permissions a plain open() would
    have given it (mkstemp / mkdtemp make them private to the owner)."""
    temp, path = pathlib.Path(temp), pathlib.Path(path)
    os.chmod(temp, (0o777 if temp.is_dir() else 0o666) & ~_umask())
    os.replace(temp, path)
    return path
