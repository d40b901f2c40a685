"""The guide image of guided dreaming (`config.guide`): read and checked before any work, sized, hashed.

The guide's features are taken once per dream-layer set, with the guide at a fixed size: its
longer side `config.guide_size` px (224, ImageNet's training size, by default), aspect kept, and
its shorter side at least the dream layers' smallest side. A fixed size keeps the match matrix
A = X G^T small (the guide's positions N_g do not grow with the frame) and the features the same
for every octave and every frame, as in the reference notebook, which takes them once.
"""
import functools
import hashlib
import pathlib

import numpy as np
from PIL import Image

from videocore import errors


def read(path):
    """The guide file as uint8 RGB (H, W, 3); UserInputError (one line) if missing or not an image."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise errors.UserInputError(f"{path}: guide image not found")
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise errors.UserInputError(f"{path}: the guide is not a readable image ({type(error).__name__})") from None


def fitted_size(height, width, longest, min_side):
    """(height, width) with the longer side `longest`, aspect kept, the shorter side >= min_side."""
    scale = max(longest / max(height, width), min_side / min(height, width))
    return max(min_side, round(height * scale)), max(min_side, round(width * scale))


def prepare(path, longest, min_side):
    """The guide at the size its features are taken at: float32 (h, w, 3) in [-1, 1]."""
    image = read(path)
    height, width = fitted_size(image.shape[0], image.shape[1], longest, min_side)
    resized = Image.fromarray(image).resize((width, height), Image.Resampling.LANCZOS)
    return np.asarray(resized, np.float32) / 127.5 - 1.0


def content_hash(path):
    """SHA-256 of the guide file's bytes ("" for no guide): what a resumed run must match."""
    if not path:
        return ""
    stat = pathlib.Path(path).stat()
    return "sha256:" + _hash(str(pathlib.Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _hash(path, size, mtime_ns):
    del size, mtime_ns  # the cache key: a changed file is hashed again
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()
