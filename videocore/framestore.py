"""A video decoded once into a memory-mapped uint8 file, reused while its manifest still matches."""

import fractions
import hashlib
import json
import os
import pathlib
import shutil
import tempfile
from typing import Optional, Tuple

import numpy as np
import tqdm

from videocore import errors
from videocore import video

MANIFEST = "manifest.json"
FRAMES = "frames.u8"
FORMAT_VERSION = 1


def default_cache_dir() -> pathlib.Path:
    """`$NEURAL_VIDEO_CACHE/frames` or `~/.cache/neural_video/frames`."""
    root = os.environ.get("NEURAL_VIDEO_CACHE") or pathlib.Path.home() / ".cache" / "neural_video"
    return pathlib.Path(root) / "frames"


class FrameStore:
    """Frames of one video as a read-only memmap (N, H, W, 3) uint8, with their frame rate and source.

    Built with `open_or_build`; `from_array` wraps frames already in memory (tests, small clips).
    """

    def __init__(self, frames: np.ndarray, fps, source=None, manifest: Optional[dict] = None):
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"frames must be uint8 (N, H, W, 3), got {frames.dtype} {frames.shape}")
        self.frames = frames
        self.fps = fractions.Fraction(fps)
        self.source = pathlib.Path(source) if source is not None else None
        self.manifest = manifest or {}

    @classmethod
    def from_array(cls, frames, fps=25, source=None) -> "FrameStore":
        return cls(np.ascontiguousarray(frames, dtype=np.uint8), fps, source)

    @property
    def size(self) -> Tuple[int, int]:
        """(width, height) of the stored frames."""
        return self.frames.shape[2], self.frames.shape[1]

    def __len__(self) -> int:
        return self.frames.shape[0]

    def __getitem__(self, index):
        return self.frames[index]

    def __repr__(self):
        return f"FrameStore({self.source}, {len(self)} frames {self.size[0]}x{self.size[1]} at {self.fps} fps)"

    @classmethod
    def open_or_build(cls, video_path, *, size: Tuple[int, int], aspect=None, start: Optional[float] = None,
                      end: Optional[float] = None, cache_dir=None, progress: bool = True) -> "FrameStore":
        """The store of `video_path` cropped to `aspect`, resized to `size` = (width, height), trimmed to
        [start, end) seconds; decoded now if no store with a matching manifest exists in `cache_dir`.

        The manifest records the source's size and mtime, so an edited video is decoded again.
        A store is built in a temporary folder and renamed when complete.
        """
        video_path = pathlib.Path(video_path).resolve()
        info = video.probe(video_path)  # raises a VideoError for anything unreadable
        stat = video_path.stat()
        wanted = {
            "format_version": FORMAT_VERSION,
            "source": str(video_path),
            "source_bytes": stat.st_size,
            "source_mtime_ns": stat.st_mtime_ns,
            "start": None if start is None else float(start),
            "end": None if end is None else float(end),
            "aspect": video.parse_aspect(aspect),
            "width": int(size[0]),
            "height": int(size[1]),
        }
        cache_dir = pathlib.Path(cache_dir) if cache_dir is not None else default_cache_dir()
        key = hashlib.sha1(json.dumps({k: wanted[k] for k in ("source", "start", "end", "aspect", "width", "height")},
                                      sort_keys=True).encode()).hexdigest()[:16]
        folder = cache_dir / f"{video_path.stem[:40]}-{key}"
        store = cls._open(folder, wanted)
        if store is None:
            cls._build(folder, wanted, info, progress)
            store = cls._open(folder, wanted)
        return store

    @classmethod
    def _open(cls, folder: pathlib.Path, wanted: dict) -> Optional["FrameStore"]:
        try:
            manifest = json.loads((folder / MANIFEST).read_text())
        except (OSError, ValueError):
            return None
        if any(manifest.get(k) != v for k, v in wanted.items()):
            return None
        shape = (manifest["count"], manifest["height"], manifest["width"], 3)
        path = folder / FRAMES
        if not path.is_file() or path.stat().st_size != int(np.prod(shape)):
            return None
        frames = np.memmap(path, dtype=np.uint8, mode="r", shape=shape)
        return cls(frames, fractions.Fraction(manifest["fps"]), manifest["source"], manifest)

    @classmethod
    def _build(cls, folder: pathlib.Path, wanted: dict, info: "video.VideoInfo", progress: bool) -> None:
        folder.parent.mkdir(parents=True, exist_ok=True)
        partial = pathlib.Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".partial", dir=folder.parent))
        try:
            start, end = wanted["start"], wanted["end"]
            span_end = info.duration if end is None else min(end, info.duration)
            expected = max(1, int(round((span_end - (start or 0.0)) * float(info.fps))))
            frames = video.read_frames(info.path, start=start, end=end, aspect=wanted["aspect"],
                                       size=(wanted["width"], wanted["height"]))
            count = 0
            with open(partial / FRAMES, "wb") as handle:
                bar = tqdm.tqdm(frames, total=expected, unit="frame", disable=not progress,
                                desc=f"decoding {info.path.name}")
                for frame in bar:
                    handle.write(frame.tobytes())
                    count += 1
            manifest = dict(wanted, count=count, fps=str(info.fps), source_width=info.width,
                            source_height=info.height, source_frames=info.frame_count)
            (partial / MANIFEST).write_text(json.dumps(manifest, indent=1))
            if folder.exists():
                shutil.rmtree(folder, ignore_errors=True)
            try:
                os.replace(partial, folder)
            except OSError:
                # Another process finished the same store first; theirs is as good as ours.
                if cls._open(folder, wanted) is None:
                    raise
        finally:
            if partial.exists():
                shutil.rmtree(partial, ignore_errors=True)


def load_stores(paths, *, size, aspect=None, start=None, end=None, cache_dir=None, progress=True) -> list:
    """FrameStores for one or several videos (or FrameStores passed through), all at `size`."""
    if isinstance(paths, (str, os.PathLike, FrameStore)):
        paths = [paths]
    stores = []
    for path in paths:
        if isinstance(path, FrameStore):
            stores.append(path)
        else:
            stores.append(FrameStore.open_or_build(path, size=size, aspect=aspect, start=start, end=end,
                                                   cache_dir=cache_dir, progress=progress))
    if not stores:
        raise errors.ConfigError("no videos given")
    return stores
