"""One picture: a still dream (`dream_image`) and the feedback "infinite zoom" video (`zoom_video`).

Zoom mode (the reference notebook's feedback loop): dream the image, zoom into its centre by
`zoom` (and rotate by `zoom_rotate` degrees), dream the result again, and so on for `frames`
frames. The picture is an image file or one frame of a video (at config.start).
"""
import pathlib

import cv2
import numpy as np
import tqdm
from PIL import Image

from deepdream_video import dream
from deepdream_video import layers as layers_lib
from deepdream_video import modes
from videocore import errors
from videocore import files
from videocore import precision
from videocore import video as video_lib

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def read_picture(path, config):
    """uint8 RGB (H, W, 3): an image file, or the frame of a video at config.start; resized to config.size."""
    path = pathlib.Path(path)
    size = video_lib.parse_size(config.size)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        try:
            with Image.open(path) as image:
                image = image.convert("RGB")
                if size:
                    image = image.resize(size, Image.Resampling.LANCZOS)
                return np.asarray(image)
        except OSError as error:
            raise errors.UserInputError(f"{path}: cannot read the image ({error})") from None
    return next(iter(video_lib.read_frames(path, start=config.start, size=size)))


def zoom_step(image, zoom, rotate=0.0):
    """The centre of `image` enlarged `zoom` times (and turned `rotate` degrees anticlockwise), same size.

    image: float32 (H, W, 3); borders that rotation uncovers are mirrored in.
    """
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), rotate, zoom)
    return cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def fit_octaves(config, height, width):
    """Octave count for one picture: config.num_octaves, or for "auto" the seeds' 4 or as many as fit
    the dream layers (noted on stdout). ConfigError if a given count does not fit."""
    from deepdream_video import video as video_lib_dream  # the run-level settings live there

    layers = layers_lib.resolve(config.dream_layers, config.model)
    need = max(layers_lib.min_side(config.model, name) for name in layers)
    requested = video_lib_dream.octaves_setting(config.num_octaves)
    for count in [requested] if requested else range(video_lib_dream.AUTO_OCTAVES, 0, -1):
        if min(dream.octave_sizes(height, width, count, config.octave_scale)[0]) >= need:
            if not requested and count < video_lib_dream.AUTO_OCTAVES:
                print(f"num_octaves=auto: {count} octaves at {width}x{height} (the dream layers need >= {need} px)")
            return count
    if min(height, width) < need or requested == 1:
        raise errors.ConfigError(f"a {width}x{height} picture is too small for the dream layers, which need {need} px")
    raise errors.ConfigError(f"num_octaves={requested} at {width}x{height}: the smallest octave is below the {need} px "
                             "the dream layers need; use fewer octaves (or num_octaves=auto)")


class _PictureDreamer:
    """Dreams pictures of one size with the config's settings; frame k's jitter comes from (seed, k)."""

    def __init__(self, config, height, width):
        from deepdream_video import video as video_lib_dream

        if config.layer_schedule.strip():
            config = config.copy_and_resolve_references()
            config.layer_schedule = ""  # one picture: the fixed dream_layers
        video_lib_dream.validate(config)  # model, layers, guide: one line before any dreaming
        self.config = config
        self.num_octaves = fit_octaves(config, height, width)
        dtype = video_lib_dream._PRECISION_TO_DTYPE[precision.choose_policy(config.precision)]
        self.dreamer = video_lib_dream.dreamer_for(config, config.dream_layers, config.channels, dtype)

    def __call__(self, image, index):
        """float32 (H, W, 3) in [-1, 1] -> its dream, same shape and range."""
        config = self.config
        rng = np.random.default_rng([config.seed, index])
        shifts = dream.jitter_shifts(rng, self.num_octaves, config.num_iterations, config.jitter)
        dreamed, _ = self.dreamer.dream(image, shifts, config.learning_rate, config.octave_scale,
                                        config.tile_size, config.tile_margin)
        return dreamed.numpy()


def dream_image(config, source, output):
    """DeepDreams one picture (image file or a video's frame at config.start) into the image `output`.

    Returns the dreamed uint8 RGB (H, W, 3). Written under a temporary name, then renamed.
    """
    picture = read_picture(source, config)
    dreamed = modes.to_uint8(_PictureDreamer(config, *picture.shape[:2])(modes.to_float(picture), 0))
    output = pathlib.Path(output)
    with files.atomic_path(output) as temp:
        try:
            Image.fromarray(dreamed).save(temp, format=Image.registered_extensions().get(output.suffix.lower()))
        except (KeyError, ValueError, OSError) as error:
            raise errors.UserInputError(f"{output}: cannot write the image ({error})") from None
    return dreamed


def zoom_video(config, source, output, *, progress=True):
    """The feedback zoom: `config.frames` frames, each the dream of the previous one zoomed by
    config.zoom and turned by config.zoom_rotate degrees, at config.fps (no audio).

    Returns the VideoInfo of `output`.
    """
    if config.frames < 1 or not config.zoom > 0 or config.fps <= 0:
        raise errors.ConfigError("zoom mode needs frames >= 1, zoom > 0 and fps > 0")
    picture = read_picture(config.predefined_start or source, config)
    dreamer = _PictureDreamer(config, *picture.shape[:2])
    image = modes.to_float(picture)
    with video_lib.VideoWriter(output, config.fps, quality=config.quality) as writer:
        for index in tqdm.trange(config.frames, unit="frame", disable=not progress, desc="zooming"):
            if index:
                image = zoom_step(image, config.zoom, config.zoom_rotate)
            image = dreamer(image, index)
            writer.write(modes.to_uint8(image))
    return video_lib.probe(output)
