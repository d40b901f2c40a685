"""Dreaming a whole video: the modes frame by frame, schedules, resumable runs (`dream_video`).

A run keeps its dreamed frames as PNGs and a small run state (next frame, previous dream,
previous raw frame, seed, memory budget) in a work folder next to the output. The state is saved every
`checkpoint_every` frames and when the run is stopped with Ctrl-C / SIGTERM; starting the same
command again continues from it. Every random draw is a function of (seed, frame index), and
the network runs deterministically, so a resumed run writes the same frames as an uninterrupted
one; a resumed run seeks to its frame rather than decoding the earlier ones. The video is encoded
from the PNGs at the end (and every `preview_every` frames into <output stem>.partial<suffix>, to
watch), at the source's exact frame rate and with its audio for the span processed. Every setting
is checked against the frame size before the first frame (`Plan`), and `shard` splits a long film
into contiguous ranges for several machines (`shards.merge` joins them).

`dream_video` puts three parts together: `Plan` (settings, memory budget, tiles, the estimate),
the run state (`_WorkDir`, `fingerprint`, `_Resume`) and `_FrameLoop` (the frames in order).
"""
import collections
import dataclasses
import fractions
import functools
import hashlib
import json
import itertools
import math
import os
import pathlib
import shutil
import time

import cv2
import numpy as np
import tqdm
from absl import logging
from PIL import Image

from deepdream_video import dream
from deepdream_video import guide as guide_lib
from deepdream_video import layers as layers_lib
from deepdream_video import models
from deepdream_video import modes
from deepdream_video import schedules
from deepdream_video import shards
from videocore import checkpoint
from videocore import errors
from videocore import files
from videocore import frames as frames_lib
from videocore import metrics
from videocore import precision
from videocore import video as video_lib

MODELS = layers_lib.MODELS
_PRECISION_TO_DTYPE = {"float32": "float32", "mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}
# Rough sustained GFLOP/s of the dream step, for the estimate printed before a run (the progress
# bar then shows the real rate). float32: bench/bench_dream.py on the 2-core development machine
# (58 GFLOP/s for one frame, 55 in a whole flow run at 540x304; 250 had been assumed and made the
# estimate ~4x short). The 16-bit figures are not measured (that machine has no bf16 instructions):
# twice float32, what bf16 kernels give where they exist.
_ESTIMATED_GFLOPS = {"float32": 55.0, "bfloat16": 110.0, "float16": 110.0}
# Peak memory of a gradient step is about this many times the forward activations (kept for the
# backward pass, which makes gradients of the same sizes), plus a fixed part for TF and the traced
# graphs; measured at 1920x1080 (1.5 GB for layers mixed3 + mixed5 in bfloat16).
_MEMORY_PER_ACTIVATION_BYTE = 2.6
_MEMORY_FIXED_BYTES = 0.6 * 2**30
# Config fields that do not change the frames a run produces (may differ when resuming).
_RUN_ONLY_FIELDS = ("checkpoint_every", "workdir", "keep_workdir", "warping_error", "quality", "memory_budget_gb",
                    "preview_every", "side_by_side")
# num_octaves=auto: the seeds' "octaves: 4", fewer where the frame is too small for it.
AUTO_OCTAVES = 4
# Modes in which a frame's dream starts from the previous one (a shard warms up before its range).
_CARRYING_MODES = ("blend", "flow")


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


def _positive(config, name, minimum=1):
    if config[name] < minimum:
        raise errors.ConfigError(f"{name} must be at least {minimum}, got {config[name]}")


def validate(config):
    """ConfigError for values that cannot work, before anything is loaded. Returns the parsed
    (dream layers, layer schedule)."""
    layers_lib.check_model(config.model)
    if config.mode not in modes.MODES:
        raise errors.ConfigError(f"mode must be one of {', '.join(modes.MODES)}, got {config.mode!r}")
    if config.blend not in schedules.BLEND_KINDS:
        raise errors.ConfigError(f"blend must be one of {', '.join(schedules.BLEND_KINDS)}, got {config.blend!r}")
    if config.objective not in dream.OBJECTIVES:
        raise errors.ConfigError(f"objective must be one of {', '.join(dream.OBJECTIVES)}, got {config.objective!r}")
    _check_dream_values(config.to_dict(), "")
    octaves_setting(config.num_octaves)
    for name in ("blend_value", "blend_low", "blend_high", "flow_decay", "flow_refresh"):
        if not 0.0 <= config[name] <= 1.0:
            raise errors.ConfigError(f"{name} must be in [0, 1], got {config[name]}")
    if config.blend_low > config.blend_high or (config.blend == "loop" and config.blend_step <= 0):
        raise errors.ConfigError("blend needs blend_low <= blend_high and blend_step > 0")
    _positive(config, "checkpoint_every")
    if config.preview_every < 0 or config.warmup < 0:
        raise errors.ConfigError("preview_every and warmup must not be negative")
    parse_shard(config.shard)
    _positive(config, "layer_every")
    if config.start < 0 or (config.end and config.end <= config.start):
        raise errors.ConfigError(f"empty time range start={config.start} end={config.end}")
    if not 0 < config.preview_scale <= 1 or config.preview_seconds <= 0:
        raise errors.ConfigError("preview_scale must be in (0, 1] and preview_seconds positive")
    if config.predefined_start and not pathlib.Path(config.predefined_start).is_file():
        raise errors.UserInputError(f"{config.predefined_start}: predefined_start image not found")
    if config.guide:
        guide_lib.read(config.guide)  # missing or not an image: one line before any work
        _positive(config, "guide_size")
    dream_layers = layers_lib.resolve(config.dream_layers, config.model)
    schedule = layers_lib.resolve(config.layer_schedule, config.model) if config.layer_schedule.strip() else ()
    layers_lib.validate_channels(config.channels, {})
    video_lib.parse_size(config.size)
    return dream_layers, schedule


def _check_dream_values(values, where):
    """The numeric dream settings of the config or of one keyframe."""
    if "num_iterations" in values and values["num_iterations"] < 1:
        raise errors.ConfigError(f"{where}num_iterations must be at least 1, got {values['num_iterations']}")
    if "num_octaves" in values and values["num_octaves"] != "auto" and octaves_setting(values["num_octaves"]) < 1:
        raise errors.ConfigError(f"{where}num_octaves must be at least 1, got {values['num_octaves']}")
    if "octave_scale" in values and not values["octave_scale"] > 1:
        raise errors.ConfigError(f"{where}octave_scale must be greater than 1, got {values['octave_scale']}")
    if "learning_rate" in values and not values["learning_rate"] >= 0:
        raise errors.ConfigError(f"{where}learning_rate must not be negative, got {values['learning_rate']}")
    if "jitter" in values and values["jitter"] < 0:
        raise errors.ConfigError(f"{where}jitter must not be negative, got {values['jitter']}")


def octaves_setting(value):
    """config.num_octaves ("auto", an int or an int's text) -> int, or None for "auto"."""
    if value == "auto" or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise errors.ConfigError(f"num_octaves must be 'auto' or a whole number, got {value!r}") from None


def parse_shard(text):
    """"i/N" -> (i, N) with 0 <= i < N; "" -> None."""
    if not text:
        return None
    try:
        index, count = (int(part) for part in str(text).split("/"))
    except ValueError:
        raise errors.ConfigError(f"shard {text!r} is not INDEX/COUNT, e.g. 0/4") from None
    if not 0 <= index < count:
        raise errors.ConfigError(f"shard {text!r}: the index must be in 0..{count - 1} (0-based)")
    return index, count


def _read_image(path, size):
    """An image file as uint8 RGB resized to size (width, height)."""
    try:
        with Image.open(path) as image:
            image = image.convert("RGB").resize(size, Image.Resampling.LANCZOS)
            return np.asarray(image)
    except OSError as error:
        raise errors.UserInputError(f"{path}: cannot read predefined_start image ({error})") from None


def _available_memory():
    """Bytes of memory available now (MemAvailable), or the physical memory if unknown."""
    try:
        for line in pathlib.Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


class _WorkDir:
    """The frames and run state of one run: `frames/NNNNNN.png`, `state.npz`."""

    def __init__(self, path, fingerprint):
        self.path = pathlib.Path(path)
        self.fingerprint = fingerprint
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


def network(model, weights, compute_dtype):
    """The Keras network `model` with `weights` ("random" = random init, for tests and tables)."""
    if model == "inception_v3":
        return models.inception_v3(None if weights in ("random", "none") else weights)
    from deepdream_video import applications  # deferred: only other models need it

    return applications.network(model, weights, compute_dtype)


def dreamer_for(config, dream_layers, channels, compute_dtype):
    """The (cached) Dreamer of `config`'s model, weights, objective and guide for these layers."""
    return _dreamer(config.model, config.weights, layers_lib.resolve(dream_layers, config.model), channels,
                    config.objective, compute_dtype, config.guide, guide_lib.content_hash(config.guide),
                    config.guide_size)


@functools.lru_cache(maxsize=8)
def _dreamer(model, weights, dream_layers, channels, objective, compute_dtype, guide, guide_hash, guide_size):
    """Dreamers outlive a run, so their traced graphs serve the next run in the same process
    (`one_graph_per_frame` is set per run). The guide's hash is part of the key: a changed file is
    read again."""
    del guide_hash
    guide_image = None
    if guide:
        need = max(layers_lib.min_side(model, layer) for layer in dream_layers)
        guide_image = guide_lib.prepare(guide, guide_size, need)
    return dream.Dreamer(network(model, weights, compute_dtype), dream_layers, channels, objective, compute_dtype,
                         model_name=model, guide=guide_image)


class Plan:
    """What a run will do, worked out before a frame is read: the checked settings, the frames and
    their size, the dream settings of each frame, the memory budget, the tiling and the estimate."""

    def __init__(self, config, video, output):
        self.config = config
        self.dream_layers, self.layer_schedule = validate(config)
        if self.layer_schedule and "dream_layers" in config.keyframes:
            raise errors.ConfigError("keyframes cannot set dream_layers while layer_schedule is in use")
        self.video = pathlib.Path(video)
        self.output = pathlib.Path(output)
        self.info = video_lib.probe(self.video)
        self.start = float(config.start)
        self.end = float(config.end) if config.end else None
        width, height = video_lib.parse_size(config.size) or (self.info.width, self.info.height)
        if config.preview:
            width = max(2, round(width * config.preview_scale / 2) * 2)
            height = max(2, round(height * config.preview_scale / 2) * 2)
            end = self.start + config.preview_seconds
            self.end = min(self.end, end) if self.end else end
        self.size = (width, height)
        self.keyframes = schedules.parse_keyframes(config.keyframes, self.info.fps)
        for keyframe in self.keyframes:
            _check_dream_values(keyframe.values, f"keyframe at frame {keyframe.frame}: ")
            if "dream_layers" in keyframe.values:
                layers_lib.resolve(keyframe.values["dream_layers"], config.model)
        self.compute_dtype = _PRECISION_TO_DTYPE[precision.choose_policy(config.precision)]
        self.notices = []  # one-line notices printed before the run
        # The frames this run writes, [first_frame, end_frame), and dreams, from dream_from (indices
        # counted from `start`; a shard dreams `warmup` frames before its range in carrying modes).
        total = self._frames_in_range()
        shard = parse_shard(config.shard)
        self.shard = shard
        self.first_frame, self.end_frame = (0, total) if shard is None else (
            shard[0] * total // shard[1], (shard[0] + 1) * total // shard[1])
        self.dream_from = self.first_frame
        if shard is not None:
            self.output = shards.shard_path(self.output, *shard)
            if config.mode in _CARRYING_MODES:
                self.dream_from = max(0, self.first_frame - config.warmup)
        self.num_octaves = self._fit_octaves()
        self._tiles = {}
        self._one_graph_per_frame = None
        self._memory_budget = None

    def expected_frames(self):
        """Frames this run writes (a shard's share of [start, end))."""
        return self.end_frame - self.first_frame

    def _frames_in_range(self):
        """Frames in [start, end): those whose time stamp k / fps falls in the range."""
        fps = float(self.info.fps)
        first = math.ceil(self.start * fps - 1e-9)
        last = self.info.frame_count
        if self.end is not None:
            last = min(last, math.ceil(self.end * fps - 1e-9))
        return max(0, last - first)

    def read_source(self, from_frame=0):
        """The source frames from index `from_frame` of [start, end) on, at the run's size, uint8
        (H, W, 3), streamed. Seeks rather than decoding the frames before it."""
        start = self.start + from_frame / float(self.info.fps)
        return video_lib.read_frames(self.video, start=start, end=self.end, size=self.size, aspect=None)

    def frame_time(self, index):
        """Seconds into the source of frame `index` (where its audio starts)."""
        return self.start + index / float(self.info.fps)

    def _settings_used(self, num_octaves):
        """Every (dream layers, num_octaves, octave_scale, frame) combination the run will dream
        with if the config's octave count is `num_octaves` (frame: the first that uses it)."""
        self.num_octaves = num_octaves
        if not self.keyframes:
            scale = self.config.octave_scale
            return {(layers_lib.resolve(layers, self.config.model), num_octaves, scale): 0
                    for layers in self.layer_sets()}
        used = {}
        for index in range(self.dream_from, self.end_frame):
            values = self.frame_values(index)
            key = (layers_lib.resolve(values["dream_layers"], self.config.model), values["num_octaves"],
                   values["octave_scale"])
            used.setdefault(key, index)
        return used

    def _misfit(self, num_octaves):
        """The combination whose smallest octave falls short of what its deepest layer needs, the
        most demanding one if several do: (layer, needed side, smallest octave (h, w), octaves,
        frame), or None if all fit."""
        width, height = self.size
        model = self.config.model
        misfits = []
        for (layers, count, scale), frame in self._settings_used(num_octaves).items():
            smallest = dream.octave_sizes(height, width, count, scale)[0]
            for layer in layers:
                need = layers_lib.min_side(model, layer)
                if min(smallest) < need:
                    misfits.append((need, layers_lib.depth(model, layer), -frame, (layer, need, smallest, count, frame)))
        return max(misfits)[-1] if misfits else None

    def _fit_octaves(self):
        """The octave count for the config's num_octaves, checked against every layer the run will
        use at the run's size before any work: "auto" takes the seeds' 4 or as many as fit (noted in
        `notices`); a count that does not fit is a ConfigError naming the layer and what to change."""
        width, height = self.size
        requested = octaves_setting(self.config.num_octaves)
        candidates = [requested] if requested else range(AUTO_OCTAVES, 0, -1)
        first_misfit = None
        for count in candidates:
            misfit = self._misfit(count)
            if misfit is None:
                if count < AUTO_OCTAVES and not requested:
                    layer, need, smallest, _, _ = first_misfit
                    self.notices.append(
                        f"num_octaves=auto: {count} octave{'s' if count > 1 else ''} at {width}x{height} "
                        f"({layer} needs the smallest octave >= {need} px; {AUTO_OCTAVES} would make it "
                        f"{smallest[1]}x{smallest[0]})")
                return count
            first_misfit = first_misfit or misfit
        layer, need, smallest, count, frame = misfit
        where = f" from frame {frame} (keyframes)" if self.keyframes else ""
        if min(height, width) < need or count == 1:
            raise errors.ConfigError(
                f"a {width}x{height} frame is too small for dream layer {layer}{where}, which needs at least "
                f"{need} px on each side: use a larger size or shallower layers")
        raise errors.ConfigError(
            f"num_octaves={count}{where} at {width}x{height}: the smallest octave is {smallest[1]}x{smallest[0]}, "
            f"below the {need} px dream layer {layer} needs; use fewer octaves (or num_octaves=auto), a smaller "
            "octave_scale or a larger size")

    def frame_values(self, index):
        """Dream settings for frame `index`: config, keyframes, layer schedule."""
        config = self.config
        base = {name: config[name] for name in schedules.NUMERIC}
        base["num_octaves"] = self.num_octaves
        base.update(dream_layers=",".join(self.dream_layers), channels=config.channels)
        values = schedules.values_at(self.keyframes, index, base)
        if self.layer_schedule:
            values["dream_layers"] = self.layer_schedule[
                schedules.layer_index(len(self.layer_schedule), index, config.layer_every)]
        if config.mode == "flow" and index > self.dream_from:
            values["learning_rate"] *= values["flow_refresh"]
        return values

    def dreamer(self, dream_layers, channels):
        return dreamer_for(self.config, dream_layers, channels, self.compute_dtype)

    def layer_sets(self):
        """Every dream-layer list the run will use (the schedule's, the keyframes', the config's)."""
        if self.layer_schedule:
            return list(self.layer_schedule)
        sets = [",".join(self.dream_layers)]
        sets += [k.values["dream_layers"] for k in self.keyframes if "dream_layers" in k.values]
        return sets

    def keep_memory_budget(self, budget):
        """Plans with the budget the run started with (a resumed run then tiles and traces as before)."""
        self._memory_budget = float(budget)

    def memory_budget(self):
        """Bytes the run may use: memory_budget_gb, or half the memory available when it first
        started (kept in the run state, see `keep_memory_budget`)."""
        if self._memory_budget is None:
            gigabytes = self.config.memory_budget_gb
            self._memory_budget = gigabytes * 2**30 if gigabytes > 0 else _available_memory() / 2
        return self._memory_budget

    def one_graph_per_frame(self):
        """Whether the frame graphs of all the run's layer sets fit in half the memory budget
        (else each step is its own call: a little slower, far less memory)."""
        if self._one_graph_per_frame is None:
            config = self.config
            needs = sum(self.dreamer(layers, config.channels).frame_graph_bytes(self.num_octaves,
                                                                                  config.num_iterations)
                        for layers in self.layer_sets())
            self._one_graph_per_frame = needs <= self.memory_budget() / 2
        return self._one_graph_per_frame

    def tiles(self, dreamer):
        """(tile_size, tile_margin) for this frame size: the config's, or untiled if the frame
        fits in the memory budget, or the largest square tiles that do. ConfigError if none do."""
        key = id(dreamer)
        if key in self._tiles:
            return self._tiles[key]
        config = self.config
        width, height = self.size
        dreamer.check_tiling(config.tile_size, config.tile_margin)

        def needs(h, w):
            return _MEMORY_PER_ACTIVATION_BYTE * dreamer.net.activation_bytes(h, w) + _MEMORY_FIXED_BYTES

        budget = self.memory_budget()
        if config.tile_size:
            tiles = (config.tile_size, config.tile_margin)
        elif needs(height, width) <= budget:
            tiles = (0, 0)
        else:
            stride = dreamer.net.stride()
            tile = (max(height, width) // stride) * stride
            while tile > 2 * config.tile_margin + stride and needs(tile, tile) > budget:
                tile -= stride
            if needs(tile, tile) > budget or tile <= 2 * config.tile_margin:
                raise errors.ConfigError(
                    f"a {width}x{height} frame does not fit in {budget / 2**30:.1f} GB even in tiles; "
                    "set a smaller size, or a larger memory_budget_gb")
            tiles = (tile, config.tile_margin)
        self._tiles[key] = tiles
        return tiles

    def describe(self, frames):
        """The memory and time estimate printed before a run."""
        values = self.frame_values(0)
        dreamer = self.dreamer(values["dream_layers"], values["channels"])
        tile_size, tile_margin = self.tiles(dreamer)
        width, height = self.size
        sizes = dream.octave_sizes(height, width, values["num_octaves"], values["octave_scale"])
        gflop = 2 * values["num_iterations"] * sum(dreamer.net.flops(h, w) for h, w in sizes) / 1e9
        seconds = gflop / _ESTIMATED_GFLOPS[self.compute_dtype]
        spans = dream.tile_spans(height, tile_size, tile_margin), dream.tile_spans(width, tile_size, tile_margin)
        tile_h = max(end - start for *_, start, end in spans[0])
        tile_w = max(end - start for *_, start, end in spans[1])
        memory = _MEMORY_PER_ACTIVATION_BYTE * dreamer.net.activation_bytes(tile_h, tile_w) + _MEMORY_FIXED_BYTES
        if self.one_graph_per_frame() and not tile_size:
            memory += sum(self.dreamer(layers, values["channels"]).frame_graph_bytes(
                values["num_octaves"], values["num_iterations"]) for layers in self.layer_sets())
        tiling = (f"{len(spans[0]) * len(spans[1])} tiles of <= {tile_w}x{tile_h}" if tile_size else
                  "untiled, one graph per frame" if self.one_graph_per_frame() else "untiled, one call per step")
        return (f"{self.video.name}: {frames} frames at {width}x{height}, {self.info.fps} fps, "
                f"mode {self.config.mode}, "
                f"{self.compute_dtype}; ~{gflop:.0f} GFLOP/frame, ~{seconds:.2f} s/frame, "
                f"~{frames * seconds / 60:.1f} min; ~{memory / 2**30:.1f} GB of memory ({tiling})")


# ----------------------------------------------------------------------------- the run state


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
    cannot silently change the numbers."""
    video = plan.video
    stat = video.stat()
    fields = {f"config.{k}": v for k, v in plan.config.to_dict().items() if k not in _RUN_ONLY_FIELDS}
    fields.pop("config.guide", None)  # the guide counts by its content, wherever the file sits
    fields.update({
        "video": [str(video.resolve()), stat.st_size, stat.st_mtime_ns],
        "compute_dtype": plan.compute_dtype,
        "weights": weights_identity(plan.config.weights, plan.config.model),
        "guide": guide_lib.content_hash(plan.config.guide),
        "frame_size": f"{plan.size[0]}x{plan.size[1]}",
        "num_octaves": plan.num_octaves,
        "dream_layers": list(plan.dream_layers),
        "layer_schedule": list(plan.layer_schedule),
        "frames": [plan.dream_from, plan.first_frame, plan.end_frame],
    })
    return json.dumps(fields, sort_keys=True, default=str)


@dataclasses.dataclass
class _Resume:
    """Where a run starts: the first frame, or the frame after the last saved state."""

    next_frame: int = 0
    complete: bool = False  # every frame dreamed; only encoding (and measuring) is left
    previous_dream: np.ndarray = None  # float32 (H, W, 3) in [-1, 1], of frame next_frame - 1
    previous_raw: np.ndarray = None  # uint8 (H, W, 3) source of frame next_frame - 1
    memory_budget: float = None  # bytes the run planned with when it first started

    @classmethod
    def load(cls, workdir):
        """The saved state of `workdir` (a _WorkDir), or a fresh start."""
        state = workdir.load_state()
        if state is None:
            return cls()
        resume = cls(int(state["next_frame"]), bool(state["complete"]), memory_budget=float(state["memory_budget"]))
        if resume.next_frame > 0:
            resume.previous_dream, resume.previous_raw = state["previous_dream"], state["previous_raw"]
        return resume


# ----------------------------------------------------------------------------- the frame loop


class _FrameLoop:
    """Dreams the planned frames in order into the work folder, saving the run state as it goes."""

    def __init__(self, plan, workdir):
        self.plan = plan
        self.config = plan.config
        self.workdir = workdir

    def start_image(self, index, raw, previous_raw, previous_dream, values):
        """float32 (H, W, 3) in [-1, 1] the dream of frame `index` starts from."""
        if index == 0 and self.config.predefined_start:
            return modes.to_float(_read_image(self.config.predefined_start, self.plan.size))
        if previous_dream is None:  # the run's (or a shard's warm-up's) first frame
            return modes.to_float(raw)
        if self.config.mode == "blend":
            alpha = schedules.blend_value(
                self.config.blend, index, value=values["blend_value"], low=self.config.blend_low,
                high=self.config.blend_high, step=self.config.blend_step, seed=self.config.seed)
            return modes.blend_start(modes.to_float(raw), previous_dream, alpha)
        if self.config.mode == "flow":
            start, _ = modes.flow_start(raw, previous_raw, previous_dream, values["flow_decay"],
                                        self.config.flow_method)
            return start
        return modes.to_float(raw)

    def dream_frame(self, index, start, values):
        plan = self.plan
        dreamer = plan.dreamer(values["dream_layers"], values["channels"])
        dreamer.one_graph_per_frame = plan.one_graph_per_frame()
        tile_size, tile_margin = plan.tiles(dreamer)
        rng = np.random.default_rng([self.config.seed, index])
        shifts = dream.jitter_shifts(rng, values["num_octaves"], values["num_iterations"], values["jitter"])
        dreamed, _ = dreamer.dream(start, shifts, values["learning_rate"], values["octave_scale"],
                                   tile_size, tile_margin)
        return dreamed.numpy()

    def _save(self, next_frame, previous_dream, previous_raw, complete=False):
        self.workdir.save_state(next_frame, previous_dream, previous_raw, self.config.seed,
                                self.plan.memory_budget(), complete=complete)

    def run(self, resume, progress=True):
        """Dreams from `resume` (a _Resume) to the last frame -> (frames in the output, seconds per
        frame of this session's dreaming or nan). errors.Stopped (a KeyboardInterrupt) after saving on Ctrl-C / SIGTERM."""
        plan = self.plan
        next_frame = max(resume.next_frame, plan.dream_from)
        previous_dream, previous_raw = resume.previous_dream, resume.previous_raw
        dream_seconds, dreamed_count = 0.0, 0
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
                    if (index + 1) % self.config.checkpoint_every == 0 or stop.received:
                        self._save(index + 1, previous_dream, previous_raw)
                    written = index + 1 - plan.first_frame
                    if self.config.preview_every and written > 0 and written % self.config.preview_every == 0:
                        _encode(plan, self.workdir, index + 1, False, partial_path(plan.output))
                    if stop.received:
                        raise errors.Stopped(stop.received, f"stopped by {stop.received}; the frames dreamed so far "
                                             "are kept: run the same command again to resume")
            if index < plan.first_frame:
                raise errors.VideoError(plan.video, "no frames in the chosen time range")
            self._save(index + 1, previous_dream, previous_raw, complete=True)
        return index + 1 - plan.first_frame, dream_seconds / dreamed_count if dreamed_count else float("nan")


# ----------------------------------------------------------------------------- encoding and measuring


def partial_path(output):
    """Where `preview_every` puts the frames so far: film.mp4 -> film.partial.mp4."""
    output = pathlib.Path(output)
    return output.with_name(f"{output.stem}.partial{output.suffix}")


def _encode(plan, workdir, end, progress, path=None):
    """The dreamed frames [first_frame, end) into `path` (default the output), at the source's frame
    rate with its audio for that span; source | dream side by side if the config asks. Written
    under a temporary name and renamed, so a watched partial video is never half written."""
    path = path or plan.output
    audio = plan.video if plan.info.has_audio else None
    sources = plan.read_source(plan.first_frame) if plan.config.side_by_side else None
    with video_lib.VideoWriter(path, plan.info.fps, audio_source=audio, audio_start=plan.frame_time(plan.first_frame),
                               quality=plan.config.quality) as writer:
        for index in tqdm.trange(plan.first_frame, end, unit="frame", disable=not progress,
                                 desc=f"encoding {path.name}"):
            frame = workdir.read_frame(index)
            writer.write(frames_lib.side_by_side(next(sources), frame) if sources is not None else frame)


def _measure(plan, workdir, count):
    """(warping error of the output, mean |output - source| in [0, 1] units), or nans.

    Streams both videos once (no frame list in memory): the output generator hands each
    source frame to the source generator, which `warping_error` reads right after it.
    """
    if not plan.config.warping_error or count < 2:
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


def _write_shard_record(plan, count, fingerprint_text):
    """Beside a shard's video, what `shards.merge` checks: which shard, its frames, the run's settings."""
    fields = json.loads(fingerprint_text)
    for name in ("frames", "config.shard"):
        fields.pop(name, None)
    record = {"shard": plan.shard[0], "count": plan.shard[1], "first_frame": plan.first_frame, "frames": count,
              "total_frames": plan._frames_in_range(), "fps": str(plan.info.fps), "size": list(plan.size),
              "video": str(plan.video.resolve()), "start": plan.start, "end": plan.end,
              "settings": hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()}
    with files.atomic_path(plan.output.with_suffix(".json")) as temp:
        temp.write_text(json.dumps(record, indent=1))


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

        validate(config)
        info = image.zoom_video(config, video, output, progress=progress)
        nan = float("nan")
        return Result(pathlib.Path(output), info.frame_count, info.fps, (info.width, info.height), nan, nan, nan)
    plan = Plan(config, video, output)
    for notice in plan.notices:
        print(notice, flush=True)
    for layers in plan.layer_sets():  # loads the weights (and checks channels) before the fingerprint hashes them
        plan.dreamer(layers, config.channels)
    fingerprint_text = fingerprint(plan)
    workdir = _WorkDir(config.workdir or plan.output.with_name(plan.output.name + ".work"), fingerprint_text)
    resume = _Resume.load(workdir)
    if resume.memory_budget is not None:
        plan.keep_memory_budget(resume.memory_budget)
    if resume.next_frame:
        logging.info("resuming %s at frame %d from %s", plan.video.name, resume.next_frame, workdir.path)
    print(plan.describe(plan.expected_frames()), flush=True)
    count, seconds_per_frame = _FrameLoop(plan, workdir).run(resume, progress)
    _encode(plan, workdir, plan.first_frame + count, progress)
    partial_path(plan.output).unlink(missing_ok=True)  # the whole video replaces the partial one
    if plan.shard is not None:
        _write_shard_record(plan, count, fingerprint_text)
    warping, change = _measure(plan, workdir, count)
    if not config.keep_workdir:
        shutil.rmtree(workdir.path, ignore_errors=True)
    return Result(plan.output, count, plan.info.fps, plan.size, seconds_per_frame, warping, change)
