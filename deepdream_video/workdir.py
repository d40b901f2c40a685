"""A video run's work folder: its dreamed frames as PNGs, its run state, and the fingerprint a resume must match.

The folder holds `frames/NNNNNN.png` and `state.npz` (next frame, previous dream, previous raw
frame, seed, memory budget). `fingerprint(plan)` is what the state must match to be resumed: the
source file and every frame-changing setting as the plan resolved it on this machine.
"""
import dataclasses
import functools
import hashlib
import json
import os
import pathlib

import cv2
import numpy as np

from videocore import errors
from videocore import files


class WorkDir:
    """The frames and run state of one run: `frames/NNNNNN.png`, `state.npz`."""

    def __init__(self, path, fingerprint_text):
        self.path = pathlib.Path(path)
        self.fingerprint = fingerprint_text
        self.frames = self.path / "frames"

    def frame_path(self, index):
        return self.frames / f"{index:06d}.png"

    def write_frame(self, index, frame):
        """Writes one dreamed frame (uint8 RGB) under a temp name, then renames it."""
        path = self.frame_path(index)
        with files.atomic_path(path) as temp:  # cv2 picks PNG from the temp name's suffix
            if not cv2.imwrite(str(temp), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 1]):
                raise errors.UserInputError(f"{path}: cannot write a frame (disk full or read-only?)")

    def read_frame(self, index):
        image = cv2.imread(str(self.frame_path(index)), cv2.IMREAD_COLOR)
        if image is None:
            raise errors.CheckpointError(f"{self.frame_path(index)}: frame missing or unreadable; delete "
                                         f"{self.path} to start the run over")
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)

    def load_state(self):
        """The saved state as a dict, or None for a fresh run. CheckpointError if it belongs to
        another run (other video or settings)."""
        path = self.path / "state.npz"
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as saved:
                state = {key: saved[key] for key in saved.files}
        except (OSError, ValueError) as error:
            raise errors.CheckpointError(f"{path}: unreadable run state ({error}); delete {self.path}") from None
        saved_text = str(state["fingerprint"])
        if saved_text != self.fingerprint:
            try:
                saved, now = json.loads(saved_text), json.loads(self.fingerprint)
            except ValueError:  # a state from before fingerprints were field by field
                saved, now = None, None
            field = next((key for key in sorted(set(saved) | set(now)) if saved.get(key) != now.get(key)),
                         None) if isinstance(saved, dict) and isinstance(now, dict) else None
            which = ("another video or other settings" if field is None else
                     f"other settings: {field} was {saved.get(field)!r}, now {now.get(field)!r}")
            raise errors.CheckpointError(
                f"{self.path} holds a run of {which}; delete it to start over, or pick another output / workdir")
        return state

    def save_state(self, next_frame, previous_dream, previous_raw, seed, memory_budget, complete=False):
        """Writes the run state under a temp name, then renames it (never half a state)."""
        empty = np.zeros((0, 0, 3))
        with files.atomic_path(self.path / "state.npz") as temp, open(temp, "wb") as file:
            np.savez(file, next_frame=np.int64(next_frame), seed=np.int64(seed), complete=np.bool_(complete),
                     memory_budget=np.float64(memory_budget),
                     previous_dream=empty.astype(np.float32) if previous_dream is None else previous_dream,
                     previous_raw=empty.astype(np.uint8) if previous_raw is None else previous_raw,
                     fingerprint=np.array(self.fingerprint))


@dataclasses.dataclass
class Resume:
    """Where a run starts: the first frame, or the frame after the last saved state."""

    next_frame: int = 0
    complete: bool = False  # every frame dreamed; only encoding (and measuring) is left
    previous_dream: np.ndarray = None  # float32 (H, W, 3) in [-1, 1], of frame next_frame - 1
    previous_raw: np.ndarray = None  # uint8 (H, W, 3) source of frame next_frame - 1
    memory_budget: float = None  # bytes the run planned with when it first started

    @classmethod
    def load(cls, workdir):
        """The saved state of `workdir` (a WorkDir), or a fresh start."""
        state = workdir.load_state()
        if state is None:
            return cls()
        resume = cls(int(state["next_frame"]), bool(state["complete"]), memory_budget=float(state["memory_budget"]))
        if resume.next_frame > 0:
            resume.previous_dream, resume.previous_raw = state["previous_dream"], state["previous_raw"]
        return resume


@functools.lru_cache(maxsize=8)
def _file_hash(path, size, mtime_ns):
    """SHA-256 of a file (cached by path, size and time: a weights file is ~90 MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def weights_identity(weights, model="inception_v3"):
    """What `weights` resolves to on this machine: the SHA-256 of the file that will be loaded
    ("auto" -> $NEURAL_VIDEO_INCEPTION_WEIGHTS or the converted cache, "imagenet" -> Keras's download;
    for the other models both are Keras's download), or the setting itself when no file exists yet
    (it is made when the model loads)."""
    from videocore import inception  # deferred: pulls in keras applications

    if weights is None or weights in ("none", "random"):
        return "random"
    if model != "inception_v3" and weights in ("auto", "imagenet"):
        from deepdream_video import applications

        candidates = [applications.keras_weights_path(model)]
    elif weights == "auto":
        candidates = [os.environ.get(inception.WEIGHTS_ENV), inception.converted_path()]
    elif weights == "imagenet":
        candidates = [pathlib.Path(os.environ.get("KERAS_HOME", pathlib.Path.home() / ".keras")) / "models"
                      / "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"]
    else:
        candidates = [weights]
    for candidate in filter(None, candidates):
        path = pathlib.Path(candidate)
        if path.is_file():
            stat = path.stat()
            return "sha256:" + _file_hash(str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    return str(weights)


def fingerprint(plan):
    """What a work folder's state must match to be resumed, as JSON of {field: value}: the source
    file and every frame-changing setting *as resolved on this machine* (compute dtype, a hash of
    the weights file, frame size, octave count, layers, the frame range), so a resume elsewhere
    cannot silently change the numbers. Call it once the weights are loaded (they may be converted
    into their file on first load)."""
    stat = plan.video.stat()
    fields = dict(plan.given)
    fields.update({
        "video": [str(plan.video.resolve()), stat.st_size, stat.st_mtime_ns],
        "compute_dtype": plan.network.compute_dtype,
        "weights": weights_identity(plan.network.weights, plan.network.model),
        "guide": plan.network.guide_hash,
        "frame_size": f"{plan.size[0]}x{plan.size[1]}",
        "num_octaves": plan.num_octaves,
        "dream_layers": list(plan.dream_layers),
        "layer_schedule": list(plan.layer_schedule),
        "frames": [plan.dream_from, plan.first_frame, plan.end_frame],
    })
    return json.dumps(fields, sort_keys=True, default=str)
