"""Section 4.6: a whole video passed through a trained VAE-GAN in order and written back with its audio."""

import pathlib

import tensorflow as tf
import tqdm

from videocore import data
from videocore import errors
from videocore import frames as frames_lib
from videocore import precision
from videocore import video
from videocore import workdir as workdirs
from vaegan_video import train


class Autoencoder:
    """Encoder + decoder restored from a run, as one compiled uint8 -> uint8 function.

    `__call__(frames)`: (B, H, W, 3) uint8 at the model's size -> reconstructions, same shape.
    `noise` is the sigma of eps in z = mu + sigma(x) * eps (0 = z is mu, as in section 4.6).
    """

    def __init__(self, config, workdir, noise=0.0, seed=0):
        with precision.policy_scope(config.loop.precision):
            networks, self.model_config, self.checkpoint = train.restore_networks(config, workdir)
        self.encoder, self.decoder = networks["encoder"], networks["decoder"]
        self.size = (self.model_config.width, self.model_config.height)
        self.noise = float(noise)
        self.seed = int(seed)
        self.batches = tf.Variable(0, dtype=tf.int64, trainable=False)
        dtype = self.encoder.compute_dtype
        spec = tf.TensorSpec((None, self.model_config.height, self.model_config.width, 3), tf.uint8)

        @tf.function(input_signature=[spec])
        def run(frames):
            x = data.to_float(frames, dtype)
            mu, log_var = self.encoder(x, training=False)
            z = mu
            if self.noise > 0:
                eps = tf.random.stateless_normal(tf.shape(mu), seed=tf.stack([tf.constant(self.seed, tf.int64),
                                                                               self.batches.read_value()]))
                z = mu + tf.exp(0.5 * log_var) * eps * self.noise
            self.batches.assign_add(1)
            return data.to_uint8(self.decoder(z, training=False))

        self._run = run

    def __call__(self, frames):
        return self._run(frames)


def framing(config, workdir, video_path, start=None, end=None):
    """(aspect, start, end) to read `video_path` with for the model in `workdir`: the crop the run
    trained with (its config.json; `config.data.aspect` for a run without one) and, when neither
    `start` nor `end` is given and the video is one the run trained on, the run's time range."""
    saved = workdirs.load_config(workdir, train.KIND) or {}
    trained = saved.get("data") or {}
    aspect = trained.get("aspect", config.data.aspect) or None
    if start is None and end is None:
        videos = trained.get("videos") or ()
        videos = videos.split(",") if isinstance(videos, str) else videos
        if pathlib.Path(video_path).resolve() in {pathlib.Path(v).resolve() for v in videos if v}:
            start, end = trained.get("start"), trained.get("end")
    return aspect, start, end


def reconstruct(config, workdir, video_path, output, *, side_by_side=False, noise=None, start=None, end=None,
                batch_size=None, progress=True):
    """Writes `output`: every frame of `video_path` (from `start` to `end` seconds) reconstructed by
    the model trained in `workdir`, at the source's exact frame rate, with its audio for that span.

    The frames are cropped and resized as in training (the run's config.json, see `framing`; a
    video the run trained on defaults to its training span). side_by_side: original |
    reconstruction, each at the model's size. Any video can be fed through a model (section 5.3).
    Returns the output's VideoInfo.
    """
    noise = config.reconstruct.noise if noise is None else noise
    batch_size = batch_size or config.reconstruct.batch_size
    if batch_size < 1:
        raise errors.ConfigError(f"batch size must be at least 1, got {batch_size}")
    workdirs.check(workdir, train.KIND)
    info = video.probe(video_path)
    aspect, start, end = framing(config, workdir, video_path, start, end)
    model = Autoencoder(config, workdir, noise=noise)
    batches = data.ordered_batches(video_path, batch_size, tf.uint8, size=model.size, aspect=aspect,
                                   start=start, end=end)
    stop = info.duration if end is None else min(float(end), info.duration)
    total = int(round((stop - (start or 0.0)) * float(info.fps)))
    output = pathlib.Path(output)
    # One encoder thread: libx264's own pool (3 threads on 2 cores) fights TensorFlow's for the cores
    # between batches; 720p -> 256x144 on a 2-core EPYC ran 88 ms a frame with it, 45 ms with one.
    with video.VideoWriter(output, info.fps, audio_source=video_path, audio_start=start or 0.0, threads=1) as writer:
        with tqdm.tqdm(total=total, unit="frame", disable=not progress, desc=f"reconstructing {output.name}") as bar:
            for frames in batches:
                reconstructed = model(frames).numpy()
                if side_by_side:
                    reconstructed = frames_lib.side_by_side(frames.numpy(), reconstructed)
                writer.write(reconstructed)
                bar.update(len(reconstructed))
    return video.probe(output)
