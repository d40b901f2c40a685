"""One picture: a still dream (`dream_image`) and the feedback "infinite zoom" video (`zoom_video`).

Zoom mode (the reference notebook's feedback loop): dream the image, zoom into its centre by
`zoom` (and rotate by `zoom_rotate` degrees), dream the result again, and so on for `frames`
frames. The picture is an image file or one frame of a video (at config.start). Both check and
resolve the config once, into a `plan.PicturePlan`, before any dreaming.
"""
import pathlib

import cv2
import numpy as np
import tqdm
from PIL import Image

from deepdream_video import dream
from deepdream_video import dreamers
from deepdream_video import modes
from deepdream_video import plan as plan_lib
from videocore import errors
from videocore import files
from videocore import video as video_lib


def zoom_step(image, zoom, rotate=0.0):
    """The centre of `image` enlarged `zoom` times (and turned `rotate` degrees anticlockwise), same size.

    image: float32 (H, W, 3); borders that rotation uncovers are mirrored in.
    """
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), rotate, zoom)
    return cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def _plan(config, source, zoom):
    """The picture's plan, its notices printed."""
    plan = plan_lib.for_picture(config, source, zoom=zoom)
    for notice in plan.notices:
        print(notice, flush=True)
    return plan


def _dream(plan, dreamer, image, index):
    """float32 (H, W, 3) in [-1, 1] -> its dream, same shape and range; the jitter of picture
    `index` comes from (seed, index)."""
    rng = np.random.default_rng([plan.seed, index])
    shifts = dream.jitter_shifts(rng, plan.num_octaves, plan.num_iterations, plan.jitter)
    dreamed, _ = dreamer.dream(image, shifts, plan.learning_rate, plan.octave_scale, plan.tile_size, plan.tile_margin)
    return dreamed.numpy()


def dream_image(config, source, output):
    """DeepDreams one picture (image file or a video's frame at config.start) into the image `output`.

    Returns the dreamed uint8 RGB (H, W, 3). Written under a temporary name, then renamed.
    """
    plan = _plan(config, source, zoom=False)
    dreamer = dreamers.dreamer(plan.network, plan.dream_layers, plan.channels)
    dreamed = modes.to_uint8(_dream(plan, dreamer, modes.to_float(plan.picture), 0))
    output = pathlib.Path(output)
    with files.atomic_path(output) as temp:
        try:
            Image.fromarray(dreamed).save(temp, format=Image.registered_extensions().get(output.suffix.lower()))
        except (KeyError, ValueError, OSError) as error:
            raise errors.UserInputError(f"{output}: cannot write the image ({error})") from None
    return dreamed


def zoom_video(config, source, output, *, progress=True):
    """The feedback zoom: `config.frames` frames, each the dream of the previous one zoomed by
    config.zoom and turned by config.zoom_rotate degrees, at config.fps (no audio). The picture is
    config.predefined_start if given, else `source` (an image file or a video's frame at config.start).

    Returns the VideoInfo of `output`.
    """
    plan = _plan(config, source, zoom=True)
    dreamer = dreamers.dreamer(plan.network, plan.dream_layers, plan.channels)
    image = modes.to_float(plan.picture)
    with video_lib.VideoWriter(output, plan.fps, quality=plan.quality) as writer:
        for index in tqdm.trange(plan.frames, unit="frame", disable=not progress, desc="zooming"):
            if index:
                image = zoom_step(image, plan.zoom, plan.zoom_rotate)
            image = _dream(plan, dreamer, image, index)
            writer.write(modes.to_uint8(image))
    return video_lib.probe(output)
