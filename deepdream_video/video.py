"""Dreaming a whole video, resumable (`dream_video`): the plan, dreamers, work folder and frame loop put together.

A run keeps its dreamed frames as PNGs and a small run state in a work folder next to the output
(`workdir.py`); starting the same command again continues from it, seeking to its frame, and a
resumed run writes the same frames as an uninterrupted one. The video is encoded from the PNGs at
the end (and every `preview_every` frames into <output stem>.partial<suffix>, to watch), at the
source's exact frame rate and with its audio for the span processed. The config is checked and
resolved once, into `plan.Plan`, before the first frame; `shard` splits a long film into
contiguous ranges for several machines (`shards.merge` joins them).

  plan.py        the config checked and resolved: network, layers, octaves, frames, settings
  dreamers.py    the networks loaded once; the memory budget, graph mode, tiles and estimate
  workdir.py     the frames and run state on disk, the resume fingerprint
  frame_loop.py  the frames in order, then encoding, measuring and a shard's record
"""
import dataclasses
import fractions
import pathlib
import shutil

from absl import logging

from deepdream_video import dreamers
from deepdream_video import frame_loop
from deepdream_video import plan as plan_lib
from deepdream_video import workdir as workdir_lib
from videocore import steptimes


@dataclasses.dataclass
class Result:
    """What a finished run produced."""

    output: pathlib.Path
    frames: int
    fps: fractions.Fraction
    size: tuple  # (width, height)
    seconds_per_frame: float  # dreaming only, frames of this session
    warping_error: float  # of the output (videocore.metrics.warping_error); nan if not measured
    mean_change: float  # mean |output - source| per channel, in [0, 1] units; nan if not measured


def dream_video(config, video, output, *, progress=True):
    """DeepDreams a video file into `output`, resuming an interrupted run of the same settings.

    Args:
      config: ml_collections.ConfigDict from `configs` (e.g. `configs.flow()`).
      video: path of the source video (any FFmpeg-readable file).
      output: path of the video to write (.mp4, .mkv or .mov); its work folder sits next to it.
        With `config.shard` "i/N" the shard's video goes to `shard_path(output, i, N)` with a .json
        record beside it (see `deepdream_video.shards.merge`).
      progress: show progress bars.
    Returns:
      Result. Prints one-line notices and a memory/time estimate first; the source's fps and audio
      are kept. Every setting is checked against the output size before any frame is read.
    Raises:
      UserInputError (ConfigError, VideoError, CheckpointError) for bad settings or files;
      errors.Stopped (a KeyboardInterrupt) after saving the state when stopped by Ctrl-C / SIGTERM.
    """
    if config.mode == "zoom":  # one picture, no frames to carry or resume
        from deepdream_video import image

        info = image.zoom_video(config, video, output, progress=progress)
        nan = float("nan")
        return Result(pathlib.Path(output), info.frame_count, info.fps, (info.width, info.height), nan, nan, nan)
    plan = plan_lib.for_video(config, video, output)
    for notice in plan.notices:
        print(notice, flush=True)
    for layers in plan.layer_sets:  # loads the weights (and checks channels) before the fingerprint hashes them
        dreamers.dreamer(plan.network, layers, plan.channels)
    fingerprint_text = workdir_lib.fingerprint(plan)
    workdir = workdir_lib.WorkDir(plan.workdir, fingerprint_text)
    resume = workdir_lib.Resume.load(workdir)
    budget = dreamers.Budget(plan, resume.memory_budget)  # a resumed run keeps the budget it started with
    if resume.next_frame:
        logging.info("resuming %s at frame %d from %s", plan.video.name, resume.next_frame, workdir.path)
    print(budget.describe(plan.expected_frames()), flush=True)
    frames = frame_loop.FrameLoop(plan, budget, workdir)
    count, seconds_per_frame = frames.run(resume, progress)
    if frames.timed_frames >= 2:  # the next run's estimate
        steptimes.record_seconds(budget.workload_key(), seconds_per_frame, frames.timed_frames)
    frame_loop.encode(plan, workdir, plan.first_frame + count, progress)
    frame_loop.partial_path(plan.output).unlink(missing_ok=True)  # the whole video replaces the partial one
    if plan.shard is not None:
        frame_loop.write_shard_record(plan, count, fingerprint_text)
    warping, change = frame_loop.measure(plan, workdir, count)
    if not plan.keep_workdir:
        shutil.rmtree(workdir.path, ignore_errors=True)
    return Result(plan.output, count, plan.info.fps, plan.size, seconds_per_frame, warping, change)
