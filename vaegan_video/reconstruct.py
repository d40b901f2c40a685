"""Section 4.6: a whole video passed through a trained VAE-GAN in order and written back with its audio."""

import pathlib

import keras
import numpy as np
import tensorflow as tf
import tqdm

from videocore import data
from videocore import errors
from videocore import precision
from videocore import video
from vaegan_video import train


class Autoencoder:
    """Encoder + decoder restored from a run, as one compiled uint8 -> uint8 function.

    `__call__(frames)`: (B, H, W, 3) uint8 at the model's size -> reconstructions, same shape.
    `noise` is the sigma of eps in z = mu + sigma(x) * eps (0 = z is mu, as in section 4.6).
    """

    def __init__(self, config, workdir, noise=0.0, seed=0):
        precision.apply_policy(config.loop.precision)
        networks, self.model_config = train.restore_networks(config, workdir)
        self.encoder, self.decoder = networks["encoder"], networks["decoder"]
        self.size = (self.model_config.width, self.model_config.height)
        self.noise = float(noise)
        self.seed = int(seed)
        self.batches = tf.Variable(0, dtype=tf.int64, trainable=False)
        dtype = keras.mixed_precision.dtype_policy().compute_dtype
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


def reconstruct(config, workdir, video_path, output, *, side_by_side=False, noise=None, start=None, end=None,
                batch_size=None, progress=True):
    """Writes `output`: every frame of `video_path` (from `start` to `end` seconds) reconstructed by
    the model trained in `workdir`, at the source's exact frame rate, with its audio for that span.

    The frames are cropped to `config.data.aspect` and resized to the model's size, as in
    training. side_by_side: original | reconstruction, each at the model's size. Any video can
    be fed through a model (section 5.3). Returns the output's VideoInfo.
    """
    noise = config.reconstruct.noise if noise is None else noise
    batch_size = batch_size or config.reconstruct.batch_size
    if batch_size < 1:
        raise errors.ConfigError(f"batch size must be at least 1, got {batch_size}")
    info = video.probe(video_path)
    model = Autoencoder(config, workdir, noise=noise)
    batches = data.ordered_batches(video_path, batch_size, tf.uint8, size=model.size,
                                   aspect=config.data.aspect or None, start=start, end=end)
    stop = info.duration if end is None else min(float(end), info.duration)
    total = int(round((stop - (start or 0.0)) * float(info.fps)))
    output = pathlib.Path(output)
    with video.VideoWriter(output, info.fps, audio_source=video_path, audio_start=start or 0.0) as writer:
        with tqdm.tqdm(total=total, unit="frame", disable=not progress, desc=f"reconstructing {output.name}") as bar:
            for frames in batches:
                reconstructed = model(frames).numpy()
                if side_by_side:
                    reconstructed = np.concatenate([frames.numpy(), reconstructed], axis=2)
                writer.write(reconstructed)
                bar.update(len(reconstructed))
    return video.probe(output)
