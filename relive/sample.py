"""Outputs of trained relive models: sample grids as GIF + MP4, TensorBoard strips, "relive a photo".

Trained networks are read back from a training workdir's latest checkpoint. Clips here are
float (N, T, H, W, 3) in [-1, 1] or uint8; written videos are uint8 RGB.
"""
import pathlib

import numpy as np
import PIL.Image
import PIL.ImageOps
import ml_collections
import tensorflow as tf
from absl import logging

from relive import models
from videocore import data
from videocore import errors
from videocore import files
from videocore import summaries
from videocore import video
from videocore import workdir as workdirs

# ----------------------------------------------------------------------------- grids and files


def clip_grid(clips, columns=None, padding=2):
    """Tiles N clips into one video: (N, T, H, W, 3) -> (T, rows*(H+p)+p, columns*(W+p)+p, 3) uint8."""
    clips = np.asarray(clips)
    if clips.dtype != np.uint8:
        clips = data.to_uint8_numpy(clips)
    return np.stack([summaries.image_grid(clips[:, t], columns=columns, padding=padding)
                     for t in range(clips.shape[1])])


def strip(clips, num_frames=8):
    """One image showing each clip as a row of `num_frames` evenly spaced frames: (N, T, H, W, 3) ->
    (1, H', W', 3) uint8, for TensorBoard and the loop's sample PNGs."""
    clips = np.asarray(clips)
    picks = np.linspace(0, clips.shape[1] - 1, min(num_frames, clips.shape[1])).round().astype(int)
    frames = clips[:, picks].reshape((-1,) + clips.shape[2:])
    return summaries.image_grid(frames, columns=len(picks))[None]


def write_gif(path, frames, fps):
    """Writes frames (T, H, W, 3) uint8 as a looping GIF under a temp name, then renames it to `path`."""
    path = pathlib.Path(path)
    encoded = summaries.gif_bytes(np.asarray(frames, np.uint8), fps)  # the encoder TensorBoard's clips use too
    with files.atomic_path(path) as temp:  # ordinary permissions, never half a GIF at `path`
        temp.write_bytes(encoded)
    return path


def write_clip(stem, frames, fps, quality=18):
    """Writes frames (T, H, W, 3) uint8 as `stem`.gif and `stem`.mp4 (H.264); returns both paths."""
    stem = pathlib.Path(stem)
    mp4 = stem.with_suffix(".mp4")
    with video.VideoWriter(mp4, fps, quality=quality) as writer:
        writer.write(np.asarray(frames, np.uint8))
    return [write_gif(stem.with_suffix(".gif"), frames, fps), mp4]


# ----------------------------------------------------------------------------- trained networks


KIND = "relive"  # how videocore.workdir marks this method's runs
RUN_CONFIG = workdirs.CONFIG_FILE
# The config sections that fix the networks' shapes: saved with a run, read back to rebuild it.
ARCHITECTURE = ("clip", "generator", "critic", "encoder", "predictor")


def save_run_config(config, workdir):
    """At the start of training: refuses another method's workdir, writes the run's config to
    `workdir`/config.json and marks the workdir as a relive run."""
    workdirs.prepare(workdir, KIND)
    workdirs.save_config(config, workdir, KIND)


def run_config(config, workdir):
    """`config` with its model and architecture sections replaced by those saved with the run in
    `workdir` (so sampling and export need not repeat the training flags); `config` itself if none
    were saved."""
    path = pathlib.Path(workdir) / RUN_CONFIG
    saved = workdirs.load_config(workdir, KIND)  # WorkdirError for a path that is not a relive run
    if saved is None:
        return config
    merged = ml_collections.ConfigDict(config.to_dict())
    merged.model = saved.get("model", config.model)
    for section in ARCHITECTURE:
        if section in saved:
            for key, value in saved[section].items():
                current = merged[section].get(key)
                merged[section][key] = tuple(value) if isinstance(current, tuple) else value
    if any(merged[section].to_dict() != config[section].to_dict() for section in ARCHITECTURE):
        logging.info("%s: using the network sizes saved with the run", path)
    return merged


NETWORKS = {
    "wgan": {"generator": models.video_generator},
    "conditional": {"generator": models.conditional_generator},
    "predictor": {"predictor": models.frame_predictor},
}


def load_networks(config, workdir, model=None):
    """Builds the networks of `model` (default config.model) and restores them from `workdir`'s latest
    checkpoint, with the network sizes saved in the workdir (see `run_config`). Returns {name: keras.Model}.
    Raises WorkdirError when `workdir` is not a relive run (or a run of another relive model),
    CheckpointError when it has no readable checkpoint or it does not fit."""
    config = run_config(config, workdir)
    model = model or config.model
    if model not in NETWORKS:
        raise errors.ConfigError(f"model={model!r} is not one of {', '.join(NETWORKS)}")
    trained = (workdirs.load_config(workdir, KIND) or {}).get("model")
    if trained and trained != model:
        raise workdirs.WorkdirError(f"{workdir}: a relive {trained} run, not a relive {model} run")
    networks = {name: build(config) for name, build in NETWORKS[model].items()}
    # Only the networks are wanted: the optimizer slots in the file are left unread on purpose.
    workdirs.restore(workdir, networks, KIND)
    return networks


def fixed_noise(config, count, seed=None):
    """(count, Z) float32 standard normal noise, the same for the same seed."""
    seed = config.sample.seed if seed is None else seed
    return np.random.default_rng(seed).standard_normal((count, config.generator.noise_dim)).astype(np.float32)


def generate(generator, noise, photos=None, batch_size=16):
    """Clips (N, T, H, W, 3) float32 in [-1, 1] from noise (N, Z) (and photos (N, H, W, 3) when conditional)."""
    clips = []
    for start in range(0, len(noise), batch_size):
        inputs = noise[start:start + batch_size]
        if photos is not None:
            inputs = [photos[start:start + batch_size], inputs]
        clips.append(tf.cast(generator(inputs, training=False), tf.float32).numpy())
    return np.concatenate(clips)


def sample_grid(config, workdir, output, num_clips=None, seed=None):
    """Generates `num_clips` clips with the trained unconditional generator in `workdir` and writes them
    as one grid to `output` (.gif and .mp4 next to each other). Returns the written paths."""
    config = run_config(config, workdir)
    generator = load_networks(config, workdir, "wgan")["generator"]
    num_clips = num_clips or config.sample.num_clips
    clips = generate(generator, fixed_noise(config, num_clips, seed))
    return write_clip(pathlib.Path(output).with_suffix(""), clip_grid(clips), config.clip.fps)


# ----------------------------------------------------------------------------- photos


def load_photo(path, size):
    """A still image as float32 (size, size, 3) in [-1, 1]: EXIF rotation applied, grayscale / palette /
    CMYK converted to RGB, transparency composited on white, centre-cropped to a square and resized
    (with a printed note) when it is not size x size. Raises VideoError for a file that is not an image."""
    path = pathlib.Path(path)
    try:
        with PIL.Image.open(path) as opened:
            image = PIL.ImageOps.exif_transpose(opened)
            image.load()
    except FileNotFoundError:
        raise errors.VideoError(path, "no such file") from None
    except (PIL.UnidentifiedImageError, OSError) as error:
        raise errors.VideoError(path, f"not a readable image ({error})") from None
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        background = PIL.Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = PIL.Image.alpha_composite(background, image)
        print(f"note: {path.name}: transparency composited on white")
    if image.mode != "RGB":
        print(f"note: {path.name}: {image.mode} image converted to RGB")
        image = image.convert("RGB")
    if image.size != (size, size):
        print(f"note: {path.name}: {image.size[0]}x{image.size[1]} centre-cropped to a square and resized to "
              f"{size}x{size}")
        image = PIL.ImageOps.fit(image, (size, size), method=PIL.Image.Resampling.LANCZOS)
    return np.asarray(data.to_float(np.asarray(image, np.uint8)))


def relive_photo_clips(config, photo_path, conditional_workdir, predictor_workdir, seed=None):
    """The photo relived by both models, as clips (3, T, H, W, 3) float32 in [-1, 1]: the still photo,
    the conditional generator's clip around it and the photo followed by the LSTM's roll-out.

    T is the shorter of the conditional clip and 1 + sample.rollout_frames; both runs must share a
    frame size (the photo is loaded once at it).
    """
    run = run_config(config, conditional_workdir)
    photo = load_photo(photo_path, run.clip.frame_size)
    generator = load_networks(run, conditional_workdir, "conditional")["generator"]
    generated = generate(generator, fixed_noise(run, 1, seed), photo[None])[0]
    predictor_run = run_config(config, predictor_workdir)
    if predictor_run.clip.frame_size != run.clip.frame_size:
        raise errors.ConfigError(f"{predictor_workdir}: frames of {predictor_run.clip.frame_size} pixels, but the "
                                 f"conditional run in {conditional_workdir} has {run.clip.frame_size}")
    predictor = load_networks(predictor_run, predictor_workdir, "predictor")["predictor"]
    rolled = tf.cast(predictor.rollout(tf.constant(photo[None]), predictor_run.sample.rollout_frames), tf.float32)
    rolled = np.concatenate([photo[None], rolled.numpy()[0]])
    frames = min(len(generated), len(rolled))
    still = np.repeat(photo[None], frames, axis=0)
    return np.stack([still, generated[:frames], rolled[:frames]])


def relive_photo(config, photo_path, output_dir, conditional_workdir=None, predictor_workdir=None,
                 num_variations=1, seed=None):
    """"Relive" one photo: the conditional generator's clip around it and the LSTM's roll-out after it.

    Writes `<photo stem>_conditional.{gif,mp4}` (num_variations clips side by side, each generated
    around the photo with other noise) and `<photo stem>_rollout.{gif,mp4}` (the photo followed by
    config.sample.rollout_frames predicted frames) into output_dir, for whichever workdirs are
    given. Each model uses the network sizes saved with its run. Returns the written paths.
    """
    if not conditional_workdir and not predictor_workdir:
        raise errors.UserInputError("relive a photo: give a conditional workdir, a predictor workdir or both")
    stem = pathlib.Path(output_dir) / pathlib.Path(photo_path).stem
    outputs = []
    if conditional_workdir:
        run = run_config(config, conditional_workdir)
        photo = load_photo(photo_path, run.clip.frame_size)
        generator = load_networks(run, conditional_workdir, "conditional")["generator"]
        photos = np.repeat(photo[None], num_variations, axis=0)
        clips = generate(generator, fixed_noise(run, num_variations, seed), photos)
        outputs += write_clip(f"{stem}_conditional", clip_grid(clips), run.clip.fps)
    if predictor_workdir:
        run = run_config(config, predictor_workdir)
        photo = load_photo(photo_path, run.clip.frame_size)
        predictor = load_networks(run, predictor_workdir, "predictor")["predictor"]
        frames = tf.cast(predictor.rollout(tf.constant(photo[None]), run.sample.rollout_frames), tf.float32)
        clip = np.concatenate([photo[None, None], frames.numpy()], axis=1)
        outputs += write_clip(f"{stem}_rollout", clip_grid(clip), run.clip.fps)
    return outputs
