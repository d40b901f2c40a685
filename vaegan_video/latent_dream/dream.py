"""Neural dream videos: roll the sequence model out on its own predictions and decode them, streamed to disk.

Also latent interpolation videos (between two frames, or from one video into another) with the
VAE-GAN alone, and `demo`, the `make demo` stage.
"""

import dataclasses
import fractions
import pathlib
from typing import Iterator

import numpy as np
import tensorflow as tf
import tqdm

from videocore import errors
from videocore import video
from vaegan_video.latent_dream import latents
from vaegan_video.latent_dream import models
from vaegan_video.latent_dream import train


FEEDBACK_NOISE = ("gaussian", "uniform")  # dream.noise is the sigma, or the half-width of [-noise, noise]


@dataclasses.dataclass(frozen=True)
class DreamSettings:
    """How to roll out; the fields of `config.dream` (see configs.default)."""

    num_frames: int
    temperature: float = 0.5
    noise: float = 0.0
    feedback_noise: str = "gaussian"
    seed_frames: int = 8
    seed_start: float = 0.0
    reseed_every: int = 0
    from_prior: bool = False
    latent_bound: float = 1.0
    chunk: int = 64
    decode_batch: int = 32
    decode_precision: str = "auto"
    seed: int = 0

    @classmethod
    def from_config(cls, dream_config, **overrides):
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in dream_config.items() if k in fields}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def check(self):
        if self.num_frames < 1:
            raise errors.ConfigError(f"dream.num_frames={self.num_frames}: dream at least one frame")
        if self.temperature < 0 or self.noise < 0 or self.latent_bound < 0:
            raise errors.ConfigError("dream.temperature, dream.noise and dream.latent_bound must be >= 0")
        if self.feedback_noise not in FEEDBACK_NOISE:
            raise errors.ConfigError(f"dream.feedback_noise={self.feedback_noise!r}: choose one of {FEEDBACK_NOISE}")
        if self.chunk < 1 or self.decode_batch < 1:
            raise errors.ConfigError("dream.chunk and dream.decode_batch must be at least 1")
        if not self.from_prior and self.seed_frames < 1:
            raise errors.ConfigError("dream.seed_frames must be at least 1 (or set dream.from_prior)")
        if self.reseed_every < 0:
            raise errors.ConfigError(f"dream.reseed_every={self.reseed_every} must be >= 0")


class Dreamer:
    """A trained sequence model that rolls latent sequences out, `chunk` steps per compiled call.

    `warm_up(latents (S, D))` -> (states, next z (1, D)); `steps(z, states, count, ...)` feeds each
    draw back as the next input, plus noise of scale `noise` (Gaussian sigma, or uniform in
    [-noise, noise] with `uniform`), and returns (latents (count, D), z, states).
    """

    def __init__(self, model):
        self.model = model
        self.latent_dim = int(model.inputs[0].shape[-1])
        self.units = [int(spec.shape[-1]) for spec in model.inputs[1:]]
        z_spec = tf.TensorSpec((1, self.latent_dim), tf.float32)
        state_specs = [tf.TensorSpec((1, units), tf.float32) for units in self.units]
        scalar = tf.TensorSpec((), tf.float32)

        @tf.function(input_signature=[tf.TensorSpec((1, None, self.latent_dim), tf.float32), state_specs])
        def read(z, states):
            return self.model([z, *states], training=False)

        @tf.function(input_signature=[z_spec, state_specs, tf.TensorSpec((), tf.int32),
                                      tf.TensorSpec((2,), tf.int64), scalar, scalar, scalar,
                                      tf.TensorSpec((), tf.bool)])
        def steps(z, states, count, seed, temperature, noise, bound, uniform):
            seeds = tf.random.experimental.stateless_split(seed, 2 * count)
            out = tf.TensorArray(tf.float32, size=count)
            for i in tf.range(count):
                out = out.write(i, z[0])
                outputs = self.model([z[:, None, :], *states], training=False)
                states = outputs["states"]
                z = models.sample_next(outputs, temperature, seeds[2 * i])[:, 0]
                draw = tf.where(uniform, tf.random.stateless_uniform(tf.shape(z), seeds[2 * i + 1], -1.0, 1.0),
                                tf.random.stateless_normal(tf.shape(z), seeds[2 * i + 1]))
                z = z + noise * draw
                z = tf.cond(bound > 0, lambda: tf.clip_by_value(z, -bound, bound), lambda: z)
            return out.stack(), z, states

        self._read, self._steps = read, steps

    def zero_states(self):
        return [tf.zeros((1, units), tf.float32) for units in self.units]

    def warm_up(self, warm, temperature=0.0, seed=(0, 0)):
        """Reads real latents (S, D); returns the state after them and a draw of the next z (1, D)."""
        outputs = self._read(tf.constant(np.asarray(warm, np.float32)[None]), self.zero_states())
        last = {k: (v[:, -1:] if k != "states" else v) for k, v in outputs.items()}
        z = models.sample_next(last, temperature, tf.constant(seed, tf.int64))[:, 0]
        return outputs["states"], z

    def steps(self, z, states, count, seed, temperature, noise, bound, feedback_noise="gaussian"):
        seed = tf.constant(seed, tf.int64)
        zs, z, states = self._steps(z, states, tf.constant(count, tf.int32), seed, tf.constant(temperature, tf.float32),
                                    tf.constant(noise, tf.float32), tf.constant(bound, tf.float32),
                                    tf.constant(feedback_noise == "uniform"))
        return zs.numpy(), z, states


def rollout(dreamer, settings, seed_latents=None, first=0) -> Iterator[np.ndarray]:
    """Yields the dream's latents in pieces of at most `settings.chunk` frames, `num_frames` in all.

    seed_latents: mu (N, D) of a real video; its `seed_frames` latents from frame `first` on warm
    the state up, and with `reseed_every` the state is warmed up again on `seed_frames` real
    latents from a random place every that many frames. With `from_prior` the dream starts from
    z ~ N(0, I) and a zero state. Only one piece is in memory at a time, so any length of dream
    costs the same memory.
    """
    settings.check()
    rng = np.random.Generator(np.random.PCG64([settings.seed, 3]))
    if not settings.from_prior and (seed_latents is None or len(seed_latents) < 1):
        raise errors.ConfigError("a dream seeded with real frames needs their latents")

    def warm(start):
        window = seed_latents[start:start + settings.seed_frames]
        states, z = dreamer.warm_up(window, settings.temperature, seed=(settings.seed, int(rng.integers(2**31))))
        return states, bounded(z)

    def bounded(z):
        bound = settings.latent_bound
        return tf.clip_by_value(z, -bound, bound) if bound > 0 else z

    if settings.from_prior:
        z = bounded(tf.constant(rng.standard_normal((1, dreamer.latent_dim)).astype(np.float32)))
        states = dreamer.zero_states()
    else:
        states, z = warm(min(int(first), max(0, len(seed_latents) - 1)))
    made, piece = 0, 0
    while made < settings.num_frames:
        if settings.reseed_every and made and made % settings.reseed_every == 0 and seed_latents is not None:
            latest_start = max(0, len(seed_latents) - settings.seed_frames)
            states, z = warm(int(rng.integers(0, latest_start + 1)))
        count = min(settings.chunk, settings.num_frames - made)
        if settings.reseed_every:
            count = min(count, settings.reseed_every - made % settings.reseed_every)
        zs, z, states = dreamer.steps(z, states, count, (settings.seed, piece), settings.temperature,
                                      settings.noise, settings.latent_bound, settings.feedback_noise)
        made += count
        piece += 1
        yield zs


def write_latents(codec, pieces, output, fps, *, total=None, decode_batch=32, progress=True, desc="dreaming"):
    """Decodes latent pieces (n, D) in batches and streams the frames into `output`; returns its VideoInfo."""
    output = pathlib.Path(output)
    with video.VideoWriter(output, fps) as writer:
        with tqdm.tqdm(total=total, unit="frame", disable=not progress, desc=f"{desc} {output.name}") as bar:
            for piece in pieces:
                for begin in range(0, len(piece), decode_batch):
                    frames = codec.decode(piece[begin:begin + decode_batch])
                    writer.write(frames)
                    bar.update(len(frames))
    return video.probe(output)


def dream_video(workdir, output, *, config=None, seed_video=None, vaegan_workdir=None, fps=None, seconds=None,
                progress=True, **overrides):
    """Writes `output`: a dream of the sequence model trained in `workdir`, decoded by its VAE-GAN.

    config: a sequence config whose `dream` block is used (default: the run's own); overrides:
    any DreamSettings field (num_frames, temperature, ...). seed_video: the video whose frames
    seed the dream (default: the run's first training video). fps: default the training video's.
    seconds: the length, instead of num_frames. Returns the output's VideoInfo.
    """
    model, saved_config, run = train.restore_model(workdir)
    fps = fractions.Fraction(fps).limit_denominator(1001) if fps else fractions.Fraction(run["fps"])
    if seconds is not None:
        overrides["num_frames"] = int(round(float(seconds) * fps))
    settings = DreamSettings.from_config((config or saved_config).dream, **overrides)
    settings.check()
    vaegan_workdir = vaegan_workdir or run["vaegan_workdir"]
    codec = latents.Codec(vaegan_workdir, settings.decode_precision)
    if codec.latent_dim != run["latent_dim"]:
        raise errors.CheckpointError(f"{vaegan_workdir}: latent size {codec.latent_dim}, but the sequence model in "
                                     f"{workdir} was trained on {run['latent_dim']}")
    seed_latents, first = None, 0
    if not settings.from_prior or settings.reseed_every:
        stream = latents.encode_video(vaegan_workdir, seed_video or run["videos"][0], codec=codec,
                                      progress=progress)
        seed_latents = stream.mu
        first = int(round(settings.seed_start * float(stream.fps)))
    pieces = rollout(Dreamer(model), settings, seed_latents, first)
    return write_latents(codec, pieces, output, fps, total=settings.num_frames,
                         decode_batch=settings.decode_batch, progress=progress)


# ----------------------------------------------------------------------------- interpolation


def slerp(a, b, t):
    """Spherical interpolation of vectors a, b (D,) at t in [0, 1] (lerp when they are parallel)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    cosine = np.dot(a, b) / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12)
    omega = np.arccos(np.clip(cosine, -1.0, 1.0))
    if omega < 1e-6:
        return (1 - t) * a + t * b
    return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)


def blend(a, b, t, mode="linear"):
    """Latents a, b (D,) or (N, D) mixed at t (scalar or (N,)) in [0, 1]: "linear" or "slerp"."""
    if mode == "linear":
        t = np.asarray(t, np.float32)
        t = t[..., None] if t.ndim else t
        return ((1 - t) * a + t * b).astype(np.float32)
    if mode == "slerp":
        if np.ndim(a) == 1:
            return slerp(a, b, float(t)).astype(np.float32)
        return np.stack([slerp(x, y, s) for x, y, s in zip(a, b, np.broadcast_to(t, len(a)))]).astype(np.float32)
    raise errors.ConfigError(f"interpolation mode {mode!r}: choose 'linear' or 'slerp'")


def frame_latent(codec, video_path, seconds):
    """mu (D,) of the frame of `video_path` shown at `seconds`, cropped and sized as the VAE-GAN's."""
    frames = video.read_frames(video_path, start=float(seconds), aspect=codec.aspect, size=codec.size)
    frame = next(iter(frames), None)
    if frame is None:
        raise errors.VideoError(video_path, f"no frame at {seconds} s")
    return codec.encode(frame[None])[0][0]


def parse_frame_ref(text):
    """"video.mp4@12.5" -> (path, 12.5); "video.mp4" -> (path, None)."""
    path, at, seconds = str(text).rpartition("@")
    if at:
        try:
            return path, float(seconds)
        except ValueError:
            pass
    return str(text), None


def interpolate(vaegan_workdir, start, end, output, *, num_frames=100, mode="linear", fps=None, progress=True):
    """`interpolate_frames` when start / end name frames ("video@seconds"), `interpolate_videos` when videos."""
    first, second = parse_frame_ref(start), parse_frame_ref(end)
    if (first[1] is None) != (second[1] is None):
        raise errors.ConfigError(f"interpolate {start} -> {end}: give two frames (video@seconds) or two videos, "
                                 "not one of each")
    if first[1] is None:
        return interpolate_videos(vaegan_workdir, first[0], second[0], output, mode=mode, fps=fps, progress=progress)
    return interpolate_frames(vaegan_workdir, first, second, output, num_frames=num_frames, fps=fps or 25,
                              mode=mode, progress=progress)


def interpolate_frames(vaegan_workdir, first, second, output, *, num_frames=100, fps=25, mode="linear",
                       precision_name="auto", progress=True):
    """A video of `num_frames` frames moving through latent space from frame `first` to frame `second`.

    first, second: (video path, seconds). The ends are the VAE-GAN's reconstructions of the two
    frames. Returns the output's VideoInfo.
    """
    if num_frames < 2:
        raise errors.ConfigError(f"interpolation needs at least 2 frames, got {num_frames}")
    codec = latents.Codec(vaegan_workdir, precision_name)
    a, b = frame_latent(codec, *first), frame_latent(codec, *second)
    t = np.linspace(0.0, 1.0, num_frames)
    path = blend(np.repeat(a[None], num_frames, 0), np.repeat(b[None], num_frames, 0), t, mode)
    return write_latents(codec, [path], output, fps, total=num_frames, progress=progress, desc="interpolating")


def interpolate_videos(vaegan_workdir, video_a, video_b, output, *, mode="linear", fps=None, precision_name="auto",
                       progress=True):
    """A video that plays `video_a` and `video_b` at once and moves from the first into the second.

    Frame i decodes blend(z_a[i], z_b[i], i / (N - 1)), N = the shorter length; fps: video_a's
    by default. The latents of both videos are cached like any others. Returns the VideoInfo.
    """
    codec = latents.Codec(vaegan_workdir, precision_name)
    stream_a = latents.encode_video(vaegan_workdir, video_a, codec=codec, progress=progress)
    stream_b = latents.encode_video(vaegan_workdir, video_b, codec=codec, progress=progress)
    count = min(len(stream_a), len(stream_b))
    if count < 2:
        raise errors.VideoError(video_a if len(stream_a) < 2 else video_b, "needs at least 2 frames")
    t = np.linspace(0.0, 1.0, count)
    path = blend(stream_a.mu[:count], stream_b.mu[:count], t, mode)
    return write_latents(codec, [path], output, fps or stream_a.fps, total=count, progress=progress,
                         desc="interpolating")


# ----------------------------------------------------------------------------- make demo


def demo(vaegan_workdir, out_dir, *, source=None, progress=True, tiny=False) -> list:
    """The `make demo` stage: trains the `quick` sequence model on the latents of the clip the demo's
    VAE-GAN (in `vaegan_workdir`) learnt, then dreams from its first frames and from the prior.

    source: the video (default the bundled "bigbuckbunny"). Returns the paths written: three dream
    videos, an interpolation video into another bundled clip and a strip of dream stills.
    tiny: the `tiny` preset and 2-second dreams (a smoke test of the path).
    """
    from vaegan_video.latent_dream import configs
    from videocore import summaries

    out_dir = pathlib.Path(out_dir)
    source = pathlib.Path(source or video.sample_clip("bigbuckbunny"))
    config = configs.tiny() if tiny else configs.quick()
    config.vaegan_workdir = str(vaegan_workdir)
    config.data.videos = (str(source),)
    run = out_dir / "dream_sequence"
    train.train_and_evaluate(config, run, progress=progress)
    outputs = []
    for name, overrides in (("dream.mp4", {}), ("dream_from_prior.mp4", {"from_prior": True}),
                            ("dream_reseeded.mp4", {"reseed_every": 50})):
        info = dream_video(run, out_dir / name, progress=progress, seconds=2 if tiny else 10, **overrides)
        print(f"wrote {out_dir / name}: {info.frame_count} frames at {info.fps} fps")
        outputs.append(out_dir / name)
    morph = out_dir / "bigbuckbunny_into_bikes.mp4"
    interpolate_videos(vaegan_workdir, source, video.sample_clip("bikes"), morph, progress=progress)
    print(f"wrote {morph}: latent interpolation from one clip into the other")
    stills = np.stack(list(video.read_frames(out_dir / "dream.mp4")))[::25][:8]
    strip = out_dir / "dream_stills.png"
    summaries.save_png(strip, summaries.image_grid(stills, columns=len(stills)))
    return outputs + [morph, strip]
