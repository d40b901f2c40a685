"""Figures of merit for trained relive models: per-frame FID of generated clips, next-frame PSNR vs copying."""
import numpy as np
import tensorflow as tf

from videocore import data
from videocore import metrics


def next_frame_psnr(predictor, clips, batch_size=8):
    """Teacher-forced next-frame PSNR (dB) of `predictor` and of the copy-the-last-frame baseline.

    clips: (N, T, H, W, 3) float in [-1, 1]; frame t + 1 is predicted from frames 0..t, and
    both are compared with the true frame t + 1 as uint8 (peak 255). The PSNR is that of the
    mean squared error over all predicted frames (a static scene repeats frames exactly, which
    would make a per-frame average infinite for copying).
    Returns {"predictor": dB, "copy_last": dB}; the model is only useful if it beats copying.
    """
    predicted, copied, truth = [], [], []
    for start in range(0, len(clips), batch_size):
        batch = np.asarray(clips[start:start + batch_size], np.float32)
        output = tf.cast(predictor(batch[:, :-1], training=False), tf.float32).numpy()
        predicted.append(data.to_uint8_numpy(output))
        copied.append(data.to_uint8_numpy(batch[:, :-1]))
        truth.append(data.to_uint8_numpy(batch[:, 1:]))
    # All frames stacked into one tall image: videocore.metrics.psnr of it is the pooled-MSE PSNR.
    tall = [np.concatenate(part).reshape((-1,) + part[0].shape[3:]) for part in (predicted, copied, truth)]
    return {"predictor": metrics.psnr(tall[0], tall[2]), "copy_last": metrics.psnr(tall[1], tall[2])}


def frame_fid(generated_clips, real_clips, dtype="float32"):
    """FID between the frames of generated and real clips, each (N, T, H, W, 3) float in [-1, 1] or uint8,
    every frame scored on its own (resized to 299x299 by the metric). Returns a float >= 0."""
    def frames(clips):
        clips = np.asarray(clips)
        clips = clips if clips.dtype == np.uint8 else data.to_uint8_numpy(clips)
        return clips.reshape((-1,) + clips.shape[2:])

    return metrics.fid(frames(generated_clips), frames(real_clips), dtype=dtype)
