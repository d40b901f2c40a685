"""Writing outputs safely: a temporary name beside the target, renamed into place only when complete."""

import contextlib
import os
import pathlib
import shutil
import tempfile


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


@contextlib.contextmanager
def atomic_path(path, *, directory=False):
    """Yields a temporary path beside `path` to write the output to; `publish`es it on success.

    The temporary name keeps `path`'s suffix (writers such as cv2.imwrite and np.savez pick the
    format from it). On any exception the temporary file or folder is removed and the exception
    goes on, so `path` is either the complete new output or whatever it was before, never a
    half-written one. directory=True yields a fresh empty folder instead of an empty file.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix, suffix = f".{path.name}.", ".partial" + path.suffix
    if directory:
        temp = pathlib.Path(tempfile.mkdtemp(prefix=prefix, suffix=suffix, dir=path.parent))
    else:
        handle, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=path.parent)
        os.close(handle)
        temp = pathlib.Path(name)
    try:
        yield temp
        publish(temp, path)
    except BaseException:
        if temp.is_dir() and not temp.is_symlink():
            shutil.rmtree(temp, ignore_errors=True)
        else:
            temp.unlink(missing_ok=True)
        raise
