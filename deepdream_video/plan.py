"""A DeepDream config checked once and resolved into the immutable plan every part of a run reads.

`for_video(config, video, output)` -> `Plan`: the network (model, weights, compute dtype, objective,
guide), the layers of the run, of the layer schedule and of every keyframe, the octave count fitted
to the frame size, the frames (a shard's share and its warm-up), the mode's settings and the run's.
`for_picture(config, source)` -> `PicturePlan`, the same for one picture (a still, or the feedback
zoom). `validate` runs once, inside them; nothing after them reads the config: the frame loop, the
dreamers, the work folder's fingerprint and the picture dreams all take a plan.
"""
import dataclasses
import math
import pathlib

import numpy as np
from PIL import Image

from deepdream_video import dream
from deepdream_video import guide as guide_lib
from deepdream_video import layers as layers_lib
from deepdream_video import modes
from deepdream_video import schedules
from deepdream_video import shards
from videocore import errors
from videocore import precision
from videocore import video as video_lib

PRECISION_TO_DTYPE = {"float32": "float32", "mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}
# Config fields that do not change the frames a run produces (may differ when resuming).
RUN_ONLY_FIELDS = ("checkpoint_every", "workdir", "keep_workdir", "warping_error", "quality", "memory_budget_gb",
                   "preview_every", "side_by_side")
# num_octaves=auto: the seeds' "octaves: 4", fewer where the frame is too small for it.
AUTO_OCTAVES = 4
# Modes in which a frame's dream starts from the previous one (a shard warms up before its range).
CARRYING_MODES = ("blend", "flow")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


@dataclasses.dataclass(frozen=True)
class Network:
    """What a `dream.Dreamer` is built from besides its layers and channels (part of its cache key)."""

    model: str  # layers.MODELS
    weights: str  # "auto", "imagenet", "random" or a file; resolved to a file when the model loads
    compute_dtype: str  # "float32", "bfloat16" or "float16", from the precision policy on this machine
    objective: str  # dream.OBJECTIVES; replaced by the guided objective with a guide
    guide: str = ""  # path of the guide image; "" for none
    guide_size: int = 224  # longer side (px) of the guide where its features are taken
    guide_hash: str = ""  # the guide's content hash: a changed file is read again, a resume must match it


@dataclasses.dataclass(frozen=True)
class Plan:
    """One video run, resolved before a frame is read. Layer lists are tuples of the model's layer
    names; `frame_values` gives the dream settings of each frame."""

    network: Network
    # The dream at frame 0 (keyframes and the layer schedule change it frame by frame).
    dream_layers: tuple
    channels: tuple  # channel indices maximised in every layer; () = all
    learning_rate: float
    num_iterations: int
    num_octaves: int  # fitted to the frame size (and every keyframe's layers and octave settings)
    octave_scale: float
    jitter: int
    tile_size: int
    tile_margin: int
    seed: int
    layer_schedule: tuple  # layers moved up and back, one per `layer_every` frames; () = dream_layers
    layer_every: int
    keyframes: tuple  # schedules.Keyframe, their dream_layers and channels resolved like the config's
    layer_sets: tuple  # every layer tuple the run dreams with (schedule, config, keyframes), for loading
    # How a frame's dream starts (modes.py).
    mode: str
    blend: str
    blend_value: float
    blend_low: float
    blend_high: float
    blend_step: float
    flow_method: str
    flow_decay: float
    flow_refresh: float
    predefined_start: str  # image the first frame's dream starts from; "" = the frame
    # The frames: [first_frame, end_frame) are written, from dream_from on dreamed (indices counted
    # from `start`; a shard in a carrying mode dreams `warmup` frames before its range).
    video: pathlib.Path
    info: video_lib.VideoInfo
    size: tuple  # (width, height)
    start: float  # seconds
    end: float  # seconds, or None for the end of the video
    total_frames: int  # in [start, end), every shard together
    first_frame: int
    end_frame: int
    dream_from: int
    shard: tuple  # (index, count), or None
    # Where the run writes, and how.
    output: pathlib.Path  # a shard's own video
    workdir: pathlib.Path
    keep_workdir: bool
    checkpoint_every: int
    preview_every: int
    quality: int
    side_by_side: bool
    warping_error: bool
    memory_budget_gb: float
    given: tuple  # ("config.NAME", value) of every frame-changing field as given, for the fingerprint
    notices: tuple  # one-line notices printed before the run

    def expected_frames(self):
        """Frames this run writes (a shard's share of [start, end))."""
        return self.end_frame - self.first_frame

    def read_source(self, from_frame=0):
        """The source frames from index `from_frame` of [start, end) on, at the run's size, uint8
        (H, W, 3), streamed. Seeks rather than decoding the frames before it."""
        start = self.start + from_frame / float(self.info.fps)
        return video_lib.read_frames(self.video, start=start, end=self.end, size=self.size, aspect=None)

    def frame_time(self, index):
        """Seconds into the source of frame `index` (where its audio starts)."""
        return self.start + index / float(self.info.fps)

    def frame_values(self, index):
        """Dream settings for frame `index`: the plan's, as keyframes and the layer schedule change them.
        {name: value} for schedules.NUMERIC, dream_layers (a tuple) and channels (a tuple)."""
        base = {name: getattr(self, name) for name in schedules.NUMERIC}
        base.update(dream_layers=self.dream_layers, channels=self.channels)
        values = schedules.values_at(self.keyframes, index, base)
        if self.layer_schedule:
            values["dream_layers"] = (self.layer_schedule[
                schedules.layer_index(len(self.layer_schedule), index, self.layer_every)],)
        if self.mode == "flow" and index > self.dream_from:
            values["learning_rate"] *= values["flow_refresh"]
        return values


@dataclasses.dataclass(frozen=True)
class PicturePlan:
    """One picture's dream, resolved: a still (`image.dream_image`) or the feedback zoom (`image.zoom_video`)."""

    network: Network
    picture: np.ndarray = dataclasses.field(repr=False, compare=False)  # uint8 (H, W, 3) at the dream's size
    dream_layers: tuple
    channels: tuple
    num_octaves: int  # fitted to the picture's size
    octave_scale: float
    learning_rate: float
    num_iterations: int
    jitter: int
    tile_size: int
    tile_margin: int
    seed: int
    # The feedback zoom: `frames` frames, each the previous dream zoomed and turned, at `fps`.
    frames: int
    zoom: float
    zoom_rotate: float
    fps: float
    quality: int
    notices: tuple


def _positive(config, name, minimum=1):
    if config[name] < minimum:
        raise errors.ConfigError(f"{name} must be at least {minimum}, got {config[name]}")


def validate(config):
    """ConfigError (or UserInputError for a missing file) for values that cannot work, whatever the
    source; before anything is loaded. The values themselves are parsed where the plan is made."""
    layers_lib.check_model(config.model)
    if config.mode not in modes.MODES:
        raise errors.ConfigError(f"mode must be one of {', '.join(modes.MODES)}, got {config.mode!r}")
    if config.blend not in schedules.BLEND_KINDS:
        raise errors.ConfigError(f"blend must be one of {', '.join(schedules.BLEND_KINDS)}, got {config.blend!r}")
    if config.objective not in dream.OBJECTIVES:
        raise errors.ConfigError(f"objective must be one of {', '.join(dream.OBJECTIVES)}, got {config.objective!r}")
    _check_dream_values(config.to_dict(), "")
    for name in ("blend_value", "blend_low", "blend_high", "flow_decay", "flow_refresh"):
        if not 0.0 <= config[name] <= 1.0:
            raise errors.ConfigError(f"{name} must be in [0, 1], got {config[name]}")
    if config.blend_low > config.blend_high or (config.blend == "loop" and config.blend_step <= 0):
        raise errors.ConfigError("blend needs blend_low <= blend_high and blend_step > 0")
    _positive(config, "checkpoint_every")
    if config.preview_every < 0 or config.warmup < 0:
        raise errors.ConfigError("preview_every and warmup must not be negative")
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


def _network(config):
    """The config's network, its compute dtype chosen for this machine and its guide hashed."""
    return Network(model=config.model, weights=config.weights,
                   compute_dtype=PRECISION_TO_DTYPE[precision.choose_policy(config.precision)],
                   objective=config.objective, guide=config.guide, guide_size=config.guide_size,
                   guide_hash=guide_lib.content_hash(config.guide))


def _fit_octaves(size, model, requested, settings_used, noun="frame", keyframed=False):
    """The octave count, checked against every layer the dream will use at `size` before any work:
    the requested count, or for "auto" (None) the seeds' 4 or as many as fit.

    settings_used: octave count -> {(layers, octaves, octave_scale): first frame using them}.
    Returns (count, notices). ConfigError naming the layer and what to change if none fits.
    """
    width, height = size

    def misfit(count):
        # The combination whose smallest octave falls short of what its deepest layer needs, the
        # most demanding one if several do: (layer, needed side, smallest octave (h, w), octaves, frame).
        misfits = []
        for (layers, octaves, scale), frame in settings_used(count).items():
            smallest = dream.octave_sizes(height, width, octaves, scale)[0]
            for layer in layers:
                need = layers_lib.min_side(model, layer)
                if min(smallest) < need:
                    misfits.append((need, layers_lib.depth(model, layer), -frame,
                                    (layer, need, smallest, octaves, frame)))
        return max(misfits)[-1] if misfits else None

    first_misfit = None
    for count in [requested] if requested else range(AUTO_OCTAVES, 0, -1):
        found = misfit(count)
        if found is None:
            notices = ()
            if count < AUTO_OCTAVES and not requested:
                layer, need, smallest, _, _ = first_misfit
                notices = (f"num_octaves=auto: {count} octave{'s' if count > 1 else ''} at {width}x{height} "
                           f"({layer} needs the smallest octave >= {need} px; {AUTO_OCTAVES} would make it "
                           f"{smallest[1]}x{smallest[0]})",)
            return count, notices
        first_misfit = first_misfit or found
    layer, need, smallest, count, frame = found
    where = f" from frame {frame} (keyframes)" if keyframed else ""
    if min(height, width) < need or count == 1:
        raise errors.ConfigError(
            f"a {width}x{height} {noun} is too small for dream layer {layer}{where}, which needs at least "
            f"{need} px on each side: use a larger size or shallower layers")
    raise errors.ConfigError(
        f"num_octaves={count}{where} at {width}x{height}: the smallest octave is {smallest[1]}x{smallest[0]}, "
        f"below the {need} px dream layer {layer} needs; use fewer octaves (or num_octaves=auto), a smaller "
        "octave_scale or a larger size")


def _frames_in_range(info, start, end):
    """Frames in [start, end): those whose time stamp k / fps falls in the range."""
    fps = float(info.fps)
    first = math.ceil(start * fps - 1e-9)
    last = info.frame_count
    if end is not None:
        last = min(last, math.ceil(end * fps - 1e-9))
    return max(0, last - first)


def _resolve_keyframe(keyframe, model):
    """A parsed keyframe checked, its layers and channels resolved like the config's."""
    values = dict(keyframe.values)
    _check_dream_values(values, f"keyframe at frame {keyframe.frame}: ")
    if "dream_layers" in values:
        values["dream_layers"] = layers_lib.resolve(values["dream_layers"], model)
    if "channels" in values:
        values["channels"] = layers_lib.validate_channels(values["channels"], {})
    return schedules.Keyframe(keyframe.frame, values)


def for_video(config, video, output):
    """The plan of a video run (modes independent, blend and flow): `config` checked once, every
    setting resolved against the source and the frame size before a frame is read or a weight loaded.

    Args:
      config: ml_collections.ConfigDict from `configs`.
      video: path of the source video; output: path of the video to write (a shard writes beside it).
    Raises:
      UserInputError (ConfigError, VideoError) naming the setting or file, in one line.
    """
    validate(config)
    network = _network(config)
    dream_layers = layers_lib.resolve(config.dream_layers, config.model)
    layer_schedule = layers_lib.resolve(config.layer_schedule, config.model) if config.layer_schedule.strip() else ()
    channels = layers_lib.validate_channels(config.channels, {})
    resize = video_lib.parse_size(config.size)
    shard = parse_shard(config.shard)
    requested_octaves = octaves_setting(config.num_octaves)
    if layer_schedule and "dream_layers" in config.keyframes:
        raise errors.ConfigError("keyframes cannot set dream_layers while layer_schedule is in use")
    video = pathlib.Path(video)
    output = pathlib.Path(output)
    info = video_lib.probe(video)
    start = float(config.start)
    end = float(config.end) if config.end else None
    width, height = resize or (info.width, info.height)
    if config.preview:
        width = max(2, round(width * config.preview_scale / 2) * 2)
        height = max(2, round(height * config.preview_scale / 2) * 2)
        preview_end = start + config.preview_seconds
        end = min(end, preview_end) if end else preview_end
    keyframes = tuple(_resolve_keyframe(keyframe, config.model)
                      for keyframe in schedules.parse_keyframes(config.keyframes, info.fps))
    total = _frames_in_range(info, start, end)
    first_frame, end_frame = (0, total) if shard is None else (
        shard[0] * total // shard[1], (shard[0] + 1) * total // shard[1])
    dream_from = first_frame
    if shard is not None:
        output = shards.shard_path(output, *shard)
        if config.mode in CARRYING_MODES:
            dream_from = max(0, first_frame - config.warmup)
    if layer_schedule:
        layer_sets = tuple((layer,) for layer in layer_schedule)
    else:
        layer_sets = (dream_layers,) + tuple(k.values["dream_layers"] for k in keyframes if "dream_layers" in k.values)
    given = tuple((f"config.{name}", value) for name, value in config.to_dict().items()
                  if name not in RUN_ONLY_FIELDS and name != "guide")  # the guide counts by its content
    plan = Plan(
        network=network, dream_layers=dream_layers, channels=channels, learning_rate=config.learning_rate,
        num_iterations=config.num_iterations, num_octaves=None, octave_scale=config.octave_scale,
        jitter=config.jitter, tile_size=config.tile_size, tile_margin=config.tile_margin, seed=config.seed,
        layer_schedule=layer_schedule, layer_every=config.layer_every, keyframes=keyframes, layer_sets=layer_sets,
        mode=config.mode, blend=config.blend, blend_value=config.blend_value, blend_low=config.blend_low,
        blend_high=config.blend_high, blend_step=config.blend_step, flow_method=config.flow_method,
        flow_decay=config.flow_decay, flow_refresh=config.flow_refresh, predefined_start=config.predefined_start,
        video=video, info=info, size=(width, height), start=start, end=end, total_frames=total,
        first_frame=first_frame, end_frame=end_frame, dream_from=dream_from, shard=shard, output=output,
        workdir=pathlib.Path(config.workdir) if config.workdir else output.with_name(output.name + ".work"),
        keep_workdir=config.keep_workdir, checkpoint_every=config.checkpoint_every,
        preview_every=config.preview_every, quality=config.quality, side_by_side=config.side_by_side,
        warping_error=config.warping_error, memory_budget_gb=config.memory_budget_gb, given=given, notices=())

    def settings_used(count):
        # Every (layers, octaves, octave_scale) the run dreams with at this octave count, and the
        # first frame that does; with keyframes each frame's values are looked at.
        candidate = dataclasses.replace(plan, num_octaves=count)
        if not keyframes:
            return {(layers, count, candidate.octave_scale): 0 for layers in layer_sets}
        used = {}
        for index in range(dream_from, end_frame):
            values = candidate.frame_values(index)
            used.setdefault((values["dream_layers"], values["num_octaves"], values["octave_scale"]), index)
        return used

    num_octaves, notices = _fit_octaves((width, height), config.model, requested_octaves, settings_used,
                                        keyframed=bool(keyframes))
    return dataclasses.replace(plan, num_octaves=num_octaves, notices=notices)


def read_picture(path, size, start=0.0):
    """uint8 RGB (H, W, 3): an image file, or the frame of a video at `start` seconds; resized to
    size (width, height) unless None."""
    path = pathlib.Path(path)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        try:
            with Image.open(path) as image:
                image = image.convert("RGB")
                if size:
                    image = image.resize(size, Image.Resampling.LANCZOS)
                return np.asarray(image)
        except OSError as error:
            raise errors.UserInputError(f"{path}: cannot read the image ({error})") from None
    return next(iter(video_lib.read_frames(path, start=start, size=size)))


def for_picture(config, source, *, zoom=False):
    """The plan of one picture's dream: `config` checked once, the picture read (an image file, or
    a video's frame at config.start; for the zoom config.predefined_start if given) at config.size,
    and the octaves fitted to it. The layer schedule and keyframes do not apply: one picture dreams
    with the fixed dream_layers.

    Raises:
      UserInputError (ConfigError) naming the setting or file, in one line.
    """
    validate(config)
    if zoom and (config.frames < 1 or not config.zoom > 0 or config.fps <= 0):
        raise errors.ConfigError("zoom mode needs frames >= 1, zoom > 0 and fps > 0")
    network = _network(config)
    dream_layers = layers_lib.resolve(config.dream_layers, config.model)
    channels = layers_lib.validate_channels(config.channels, {})
    resize = video_lib.parse_size(config.size)
    requested_octaves = octaves_setting(config.num_octaves)
    picture = read_picture(config.predefined_start or source if zoom else source, resize, config.start)
    picture.flags.writeable = False  # the plan is read, never changed
    height, width = picture.shape[:2]
    num_octaves, notices = _fit_octaves(
        (width, height), config.model, requested_octaves,
        lambda count: {(dream_layers, count, config.octave_scale): 0}, noun="picture")
    return PicturePlan(
        network=network, picture=picture, dream_layers=dream_layers, channels=channels, num_octaves=num_octaves,
        octave_scale=config.octave_scale, learning_rate=config.learning_rate, num_iterations=config.num_iterations,
        jitter=config.jitter, tile_size=config.tile_size, tile_margin=config.tile_margin, seed=config.seed,
        frames=config.frames, zoom=config.zoom, zoom_rotate=config.zoom_rotate, fps=config.fps,
        quality=config.quality, notices=notices)
