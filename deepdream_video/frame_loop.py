"""A video run's frames in order: each frame's start image and dream, the saved state, then encoding and measuring.

`FrameLoop` dreams the planned frames into the work folder, saving the run state every
`checkpoint_every` frames and when stopped (Ctrl-C / SIGTERM). Every random draw is a function of
(seed, frame index) and the network runs deterministically, so a resumed run writes the same
frames as an uninterrupted one. `encode` makes the video from the PNGs (the whole run, or the
frames so far into <output stem>.partial<suffix>), `measure` its warping error, and
`write_shard_record` what `shards.merge` checks.
"""
import collections
import hashlib
import itertools
import json
import pathlib
import time

import numpy as np
import tqdm
from PIL import Image

from deepdream_video import dream
from deepdream_video import dreamers
from deepdream_video import modes
from deepdream_video import schedules
from videocore import checkpoint
from videocore import errors
from videocore import files
from videocore import frames as frames_lib
from videocore import metrics
from videocore import video as video_lib


def _read_image(path, size):
    """An image file as uint8 RGB resized to size (width, height)."""
    try:
        with Image.open(path) as image:
            image = image.convert("RGB").resize(size, Image.Resampling.LANCZOS)
            return np.asarray(image)
    except OSError as error:
        raise errors.UserInputError(f"{path}: cannot read predefined_start image ({error})") from None


class FrameLoop:
    """Dreams the planned frames in order into the work folder, saving the run state as it goes.

    Args:
      plan: the run's `plan.Plan`; budget: its `dreamers.Budget`; workdir: its `workdir.WorkDir`.
    """

    def __init__(self, plan, budget, workdir):
        self.plan = plan
        self.budget = budget
        self.workdir = workdir

    def start_image(self, index, raw, previous_raw, previous_dream, values):
        """float32 (H, W, 3) in [-1, 1] the dream of frame `index` starts from."""
        plan = self.plan
        if index == 0 and plan.predefined_start:
            return modes.to_float(_read_image(plan.predefined_start, plan.size))
        if previous_dream is None:  # the run's (or a shard's warm-up's) first frame
            return modes.to_float(raw)
        if plan.mode == "blend":
            alpha = schedules.blend_value(plan.blend, index, value=values["blend_value"], low=plan.blend_low,
                                          high=plan.blend_high, step=plan.blend_step, seed=plan.seed)
            return modes.blend_start(modes.to_float(raw), previous_dream, alpha)
        if plan.mode == "flow":
            start, _ = modes.flow_start(raw, previous_raw, previous_dream, values["flow_decay"], plan.flow_method)
            return start
        return modes.to_float(raw)

    def dream_frame(self, index, start, values):
        """float32 (H, W, 3) in [-1, 1]: the dream of frame `index` from its start image."""
        dreamer = dreamers.dreamer(self.plan.network, values["dream_layers"], values["channels"])
        dreamer.one_graph_per_frame = self.budget.one_graph_per_frame()
        tile_size, tile_margin = self.budget.tiles(dreamer)
        rng = np.random.default_rng([self.plan.seed, index])
        shifts = dream.jitter_shifts(rng, values["num_octaves"], values["num_iterations"], values["jitter"])
        dreamed, _ = dreamer.dream(start, shifts, values["learning_rate"], values["octave_scale"],
                                   tile_size, tile_margin)
        return dreamed.numpy()

    def _save(self, next_frame, previous_dream, previous_raw, complete=False):
        self.workdir.save_state(next_frame, previous_dream, previous_raw, self.plan.seed, self.budget.bytes,
                                complete=complete)

    def run(self, resume, progress=True):
        """Dreams from `resume` (a workdir.Resume) to the last frame -> (frames in the output, seconds
        per frame of this session's dreaming or nan). errors.Stopped (a KeyboardInterrupt) after
        saving on Ctrl-C / SIGTERM."""
        plan = self.plan
        next_frame = max(resume.next_frame, plan.dream_from)
        previous_dream, previous_raw = resume.previous_dream, resume.previous_raw
        dream_seconds, dreamed_count = 0.0, 0
        self.timed_frames = 0  # frames dreamed and timed in this session (its first, traced, one left out)
        index = next_frame - 1
        if not resume.complete:
            with checkpoint.StopSignals() as stop, tqdm.tqdm(
                    total=plan.end_frame - plan.dream_from, initial=next_frame - plan.dream_from, unit="frame",
                    disable=not progress, desc=f"dreaming {plan.video.name}") as bar:
                # A resumed run seeks to its frame: the earlier ones are neither decoded nor dreamed.
                source = plan.read_source(next_frame) if next_frame < plan.end_frame else ()
                for index, raw in enumerate(itertools.islice(source, plan.end_frame - next_frame), start=next_frame):
                    values = plan.frame_values(index)
                    began = time.perf_counter()
                    start = self.start_image(index, raw, previous_raw, previous_dream, values)
                    dreamed = self.dream_frame(index, start, values)
                    if index > next_frame:  # the first frame of a session includes tracing
                        dream_seconds += time.perf_counter() - began
                        dreamed_count += 1
                    if index >= plan.first_frame:  # warm-up frames are dreamed, not written
                        self.workdir.write_frame(index, modes.to_uint8(dreamed))
                    previous_dream, previous_raw = dreamed, raw
                    bar.update(1)
                    if (index + 1) % plan.checkpoint_every == 0 or stop.received:
                        self._save(index + 1, previous_dream, previous_raw)
                    written = index + 1 - plan.first_frame
                    if plan.preview_every and written > 0 and written % plan.preview_every == 0:
                        encode(plan, self.workdir, index + 1, False, partial_path(plan.output))
                    if stop.received:
                        raise errors.Stopped(stop.received, f"stopped by {stop.received}; the frames dreamed so far "
                                             "are kept: run the same command again to resume")
            if index < plan.first_frame:
                raise errors.VideoError(plan.video, "no frames in the chosen time range")
            self._save(index + 1, previous_dream, previous_raw, complete=True)
        self.timed_frames = dreamed_count
        return index + 1 - plan.first_frame, dream_seconds / dreamed_count if dreamed_count else float("nan")


def partial_path(output):
    """Where `preview_every` puts the frames so far: film.mp4 -> film.partial.mp4."""
    output = pathlib.Path(output)
    return output.with_name(f"{output.stem}.partial{output.suffix}")


def encode(plan, workdir, end, progress, path=None):
    """The dreamed frames [first_frame, end) into `path` (default the output), at the source's frame
    rate with its audio for that span; source | dream side by side if the plan asks. Written
    under a temporary name and renamed, so a watched partial video is never half written."""
    path = path or plan.output
    audio = plan.video if plan.info.has_audio else None
    sources = plan.read_source(plan.first_frame) if plan.side_by_side else None
    with video_lib.VideoWriter(path, plan.info.fps, audio_source=audio, audio_start=plan.frame_time(plan.first_frame),
                               quality=plan.quality) as writer:
        for index in tqdm.trange(plan.first_frame, end, unit="frame", disable=not progress,
                                 desc=f"encoding {path.name}"):
            frame = workdir.read_frame(index)
            writer.write(frames_lib.side_by_side(next(sources), frame) if sources is not None else frame)


def measure(plan, workdir, count):
    """(warping error of the output, mean |output - source| in [0, 1] units), or nans.

    Streams both videos once (no frame list in memory): the output generator hands each
    source frame to the source generator, which `warping_error` reads right after it.
    """
    if not plan.warping_error or count < 2:
        return float("nan"), float("nan")
    changes, pending = [], collections.deque()

    def outputs():
        for index, source in zip(range(plan.first_frame, plan.first_frame + count), plan.read_source(plan.first_frame)):
            output = workdir.read_frame(index)
            changes.append(np.mean(np.abs(output.astype(np.float32) - source)) / 255)
            pending.append(source)
            yield output

    def sources():
        while True:
            if not pending:
                return
            yield pending.popleft()

    warping = metrics.warping_error(outputs(), sources())
    return warping, float(np.mean(changes))


def write_shard_record(plan, count, fingerprint_text):
    """Beside a shard's video, what `shards.merge` checks: which shard, its frames, the run's settings."""
    fields = json.loads(fingerprint_text)
    for name in ("frames", "config.shard"):
        fields.pop(name, None)
    record = {"shard": plan.shard[0], "count": plan.shard[1], "first_frame": plan.first_frame, "frames": count,
              "total_frames": plan.total_frames, "fps": str(plan.info.fps), "size": list(plan.size),
              "video": str(plan.video.resolve()), "start": plan.start, "end": plan.end,
              "settings": hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()}
    with files.atomic_path(plan.output.with_suffix(".json")) as temp:
        temp.write_text(json.dumps(record, indent=1))
