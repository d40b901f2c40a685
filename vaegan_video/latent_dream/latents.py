"""A video as a latent sequence under a trained VAE-GAN: mu and log sigma^2 per frame, cached as .npz."""

import dataclasses
import fractions
import hashlib
import json
import pathlib
from typing import Optional

import ml_collections
import numpy as np
import tensorflow as tf
import tqdm

from videocore import data
from videocore import errors
from videocore import files
from videocore import precision
from videocore import video
from videocore import workdir as workdirs
from vaegan_video import train as vaegan_train

FORMAT_VERSION = 1
LATENTS_FOLDER = "latents"


def vaegan_run(workdir) -> dict:
    """The VAE-GAN run's saved config (config.json) as a dict; WorkdirError if `workdir` is not one."""
    saved = workdirs.load_config(workdir, vaegan_train.KIND)
    if saved is None:
        raise workdirs.WorkdirError(f"{pathlib.Path(workdir) / workdirs.CONFIG_FILE}: missing; give the workdir of "
                                    "a VAE-GAN run (run_scripts.vaegan_train)")
    return saved


def last_noise(checkpoint, schedule) -> float:
    """The noise sigma (dissertation 4.5.1) of the last batch the VAE-GAN checkpoint trained on.

    Read from the checkpoint's own schedule and data position, so a run stopped early (or
    given `num_steps`) gives the sigma its decoder last saw, not the end of its schedule.
    """
    table = workdirs.schedule(checkpoint, "noise")
    epoch = workdirs.counter(checkpoint, "epoch")
    if table is not None and epoch is not None:
        if workdirs.counter(checkpoint, "index") == 0 and epoch > 0:
            epoch -= 1  # the position is the next batch: an epoch that has just ended was the last one
        return float(table[min(epoch, len(table) - 1)])
    return float(schedule[-1])


class Codec:
    """The encoder and decoder of a VAE-GAN run, as compiled uint8 <-> latent functions.

    encode(frames uint8 (B, H, W, 3) at `size`) -> (mu, log_var), each float32 (B, D) in [-1, 1].
    decode(z float (B, D)) -> frames uint8 (B, H, W, 3).
    `aspect` is the crop the run trained on; `noise` the noise sigma of its last trained batch.
    """

    def __init__(self, vaegan_workdir, precision_name="auto"):
        self.workdir = pathlib.Path(vaegan_workdir)
        run = vaegan_run(self.workdir)
        self.aspect = run.get("data", {}).get("aspect") or None
        self.precision = precision_name
        fallback = ml_collections.ConfigDict({"model": run["model"]})
        with precision.policy_scope(precision_name):
            networks, model_config, self.checkpoint = vaegan_train.restore_networks(fallback, self.workdir)
        self.encoder, self.decoder = networks["encoder"], networks["decoder"]
        self.size = (int(model_config.width), int(model_config.height))
        self.latent_dim = int(model_config.latent_dim)
        self.noise = last_noise(self.checkpoint, run.get("noise_schedule") or [0.0])
        frames_spec = tf.TensorSpec((None, self.size[1], self.size[0], 3), tf.uint8)
        latents_spec = tf.TensorSpec((None, self.latent_dim), tf.float32)
        compute = self.encoder.compute_dtype

        @tf.function(input_signature=[frames_spec])
        def encode(frames):
            mu, log_var = self.encoder(data.to_float(frames, compute), training=False)
            return tf.cast(mu, tf.float32), tf.cast(log_var, tf.float32)

        @tf.function(input_signature=[latents_spec])
        def decode(z):
            return data.to_uint8(self.decoder(z, training=False))

        self._encode, self._decode = encode, decode

    def encode(self, frames):
        mu, log_var = self._encode(tf.convert_to_tensor(frames, tf.uint8))
        return mu.numpy(), log_var.numpy()

    def decode(self, z) -> np.ndarray:
        return self._decode(tf.convert_to_tensor(np.asarray(z, np.float32))).numpy()

    def identity(self) -> dict:
        """What the latents depend on in the model: the checkpoint file and the encoder's precision."""
        index = pathlib.Path(self.checkpoint + ".index")
        stat = index.stat()
        return {"checkpoint": str(index.resolve()), "checkpoint_bytes": stat.st_size,
                "checkpoint_mtime_ns": stat.st_mtime_ns, "precision": self.precision,
                "width": self.size[0], "height": self.size[1], "latent_dim": self.latent_dim,
                "aspect": video.parse_aspect(self.aspect)}


@dataclasses.dataclass(frozen=True)
class LatentSequence:
    """mu and log sigma^2 of every frame of a video, in order: float32 (N, D) each, in [-1, 1]."""

    mu: np.ndarray
    log_var: np.ndarray
    fps: fractions.Fraction
    source: str
    path: Optional[pathlib.Path] = None

    def __len__(self):
        return len(self.mu)

    @property
    def latent_dim(self):
        return self.mu.shape[1]

    def sample(self, eps, scale):
        """z = mu + scale * sigma * eps (eq. 2.4 with eps scaled as in training, 4.5.1); eps (N, D)."""
        return (self.mu + scale * np.exp(0.5 * self.log_var) * eps).astype(np.float32)

    def split(self, holdout_fraction):
        """(training part, held-out last part); the held-out part has round(N * fraction) frames."""
        held = int(round(len(self) * float(holdout_fraction)))
        cut = len(self) - held
        first = dataclasses.replace(self, mu=self.mu[:cut], log_var=self.log_var[:cut])
        last = dataclasses.replace(self, mu=self.mu[cut:], log_var=self.log_var[cut:])
        return first, last


def _manifest(codec, video_path, start, end):
    video_path = pathlib.Path(video_path).resolve()
    stat = video_path.stat()
    return {"format_version": FORMAT_VERSION, "source": str(video_path), "source_bytes": stat.st_size,
            "source_mtime_ns": stat.st_mtime_ns, "start": None if start is None else float(start),
            "end": None if end is None else float(end), **codec.identity()}


def cache_path(codec, video_path, start=None, end=None, cache_dir=None) -> pathlib.Path:
    """Where the latents of `video_path` under `codec` live: <cache_dir or run/latents>/<stem>-<hash>.npz."""
    video_path = pathlib.Path(video_path).resolve()
    folder = pathlib.Path(cache_dir) if cache_dir else codec.workdir / LATENTS_FOLDER
    key = json.dumps({"source": str(video_path), "start": start, "end": end, "precision": codec.precision},
                     sort_keys=True)
    return folder / f"{video_path.stem[:40]}-{hashlib.sha1(key.encode()).hexdigest()[:16]}.npz"


def load(path, manifest=None) -> Optional[LatentSequence]:
    """The LatentSequence stored at `path`, or None if absent, unreadable or not matching `manifest`."""
    path = pathlib.Path(path)
    try:
        with np.load(path, allow_pickle=False) as stored:
            saved = json.loads(str(stored["manifest"]))
            if manifest is not None and saved != manifest:
                return None
            return LatentSequence(mu=stored["mu"], log_var=stored["log_var"],
                                  fps=fractions.Fraction(saved["fps"]), source=saved["source"], path=path)
    except (OSError, KeyError, ValueError):
        return None


def encode_video(vaegan_workdir, video_path, *, start=None, end=None, cache_dir=None, batch_size=32,
                 precision_name="auto", codec=None, progress=True) -> LatentSequence:
    """Every frame of `video_path` (from `start` to `end` seconds) through the run's encoder.

    Frames are cropped to the aspect the VAE-GAN trained on and resized to its size. The result
    is stored as .npz keyed to the checkpoint (path, size, mtime), the encoder's precision and the
    video (path, size, mtime, span) and reused while they match; pass `codec` to reuse a loaded model.
    """
    codec = codec or Codec(vaegan_workdir, precision_name)
    video_path = pathlib.Path(video_path)
    info = video.probe(video_path)  # a VideoError for a missing or unreadable file
    manifest = _manifest(codec, video_path, start, end)
    manifest["fps"] = str(info.fps)
    path = cache_path(codec, video_path, start, end, cache_dir)
    cached = load(path, manifest)
    if cached is not None:
        return cached
    stop = info.duration if end is None else min(float(end), info.duration)
    total = max(0, int(round((stop - (start or 0.0)) * float(info.fps))))
    batches = data.ordered_batches(video_path, batch_size, tf.uint8, size=codec.size, aspect=codec.aspect,
                                   start=start, end=end)
    mus, log_vars = [], []
    with tqdm.tqdm(total=total, unit="frame", disable=not progress, desc=f"encoding {video_path.name}") as bar:
        for frames in batches:
            mu, log_var = codec.encode(frames)
            mus.append(mu)
            log_vars.append(log_var)
            bar.update(len(mu))
    if not mus:
        raise errors.VideoError(video_path, f"no frames between {start} and {end} seconds")
    sequence = LatentSequence(mu=np.concatenate(mus), log_var=np.concatenate(log_vars), fps=info.fps,
                              source=str(video_path.resolve()), path=path)
    _save(path, sequence, manifest)
    return sequence


def _save(path, sequence, manifest):
    with files.atomic_path(path) as temp, open(temp, "wb") as file:
        np.savez(file, mu=sequence.mu, log_var=sequence.log_var, manifest=np.asarray(json.dumps(manifest)))
