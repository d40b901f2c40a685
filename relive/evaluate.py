"""Figures of merit for trained relive models: per-frame FID, motion and spread of clips, next-frame PSNR."""
import numpy as np
import tensorflow as tf

from relive import rollouts
from videocore import data
from videocore import errors
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


def video_windows(frames, length, hop=1):
    """Every `length`-frame window of one video, `hop` frames apart, in order.

    frames: (N, H, W, 3) uint8 or float. Returns (count, length, H, W, 3) of the same dtype.
    Raises UserInputError when the video is shorter than one window.
    """
    frames = np.asarray(frames)
    if len(frames) < length:
        raise errors.UserInputError(f"a video of {len(frames)} frames is shorter than one window of {length}")
    return np.stack([frames[start:start + length] for start in range(0, len(frames) - length + 1, hop)])


def rollout_frames(predictor, clips, context_frames, horizon, batch_size=16):
    """The frames a predictor rolls out after the first `context_frames` of every clip.

    clips: (N, T, H, W, 3) uint8 with T >= context_frames; the predictor is driven through
    `predictor.step(frames, state, training=False) -> (next frames, state)`: the given frames
    teacher-forced, then each of the `horizon` frames predicted from those predicted before it.
    Returns (N, horizon, H, W, 3) uint8: frames context_frames .. context_frames + horizon - 1.
    """
    predicted = []
    for start in range(0, len(clips), batch_size):
        given = data.to_float(clips[start:start + batch_size, :context_frames])
        rolled = rollouts.roll_out(predictor, given, horizon)[1]
        predicted.append(data.to_uint8_numpy(tf.cast(rolled, tf.float32)))
    return np.concatenate(predicted)


def rollout_scores(predictor, clips, context_frames, steps=(1, 5, 10), batch_size=16):
    """PSNR and SSIM of a predictor's roll-out and of copying the last given frame, by roll-out step.

    clips: (N, T, H, W, 3) float in [-1, 1] or uint8 (e.g. `video_windows` of a test video), with
    T >= context_frames + max(steps). The first context_frames of every clip are given; after
    them the predictor predicts each frame from the frames it predicted before, through
    `predictor.step(frames, state, training=False) -> (next frames, state)` (models.FramePredictor
    and motion.MotionPredictor). Roll-out step k is frame context_frames - 1 + k; copying repeats
    frame context_frames - 1. Both are scored against the true frames as uint8 (peak 255): PSNR
    of the squared error pooled over the clips (inf when all are exact), SSIM averaged over them
    (videocore.metrics.ssim: frames of at least 11x11).
    Returns {"copy_last": {"psnr_1": dB, "ssim_1": ..., ...}, "predictor": {...}} for every k in steps.
    """
    clips = np.asarray(clips)
    clips = clips if clips.dtype == np.uint8 else data.to_uint8_numpy(clips)
    if context_frames < 1 or not steps or min(steps) < 1:
        raise errors.UserInputError(f"roll-out: context_frames={context_frames} and steps={tuple(steps)} must be "
                                    "positive")
    horizon = max(steps)
    if clips.ndim != 5 or clips.shape[1] < context_frames + horizon:
        raise errors.UserInputError(f"roll-out: clips {clips.shape} need (N, T, H, W, 3) with T >= "
                                    f"{context_frames} given + {horizon} predicted frames")
    guesses = {"copy_last": np.repeat(clips[:, context_frames - 1:context_frames], horizon, axis=1),
               "predictor": rollout_frames(predictor, clips, context_frames, horizon, batch_size)}
    truth = clips[:, context_frames:context_frames + horizon]
    width = clips.shape[3]
    scores = {}
    for name, guess in guesses.items():
        scores[name] = {}
        for step in steps:
            # The frames stacked into one tall image: metrics.psnr of it is the pooled-MSE PSNR.
            tall_guess, tall_truth = (x[:, step - 1].reshape(1, -1, width, 3) for x in (guess, truth))
            scores[name][f"psnr_{step}"] = metrics.psnr(tall_guess, tall_truth)
            scores[name][f"ssim_{step}"] = metrics.ssim(guess[:, step - 1], truth[:, step - 1])
    return scores


def frames_of(clips):
    """Clips (N, T, H, W, 3) float in [-1, 1] or uint8 -> their frames (N * T, H, W, 3) uint8, in order."""
    clips = np.asarray(clips)
    clips = clips if clips.dtype == np.uint8 else data.to_uint8_numpy(clips)
    return clips.reshape((-1,) + clips.shape[2:])


def frame_fid(generated_clips, real_clips, dtype="float32"):
    """FID between the frames of generated and real clips, each (N, T, H, W, 3) float in [-1, 1] or uint8,
    every frame scored on its own (resized to 299x299 by the metric). Returns a float >= 0."""
    return metrics.fid(frames_of(generated_clips), frames_of(real_clips), dtype=dtype)


def _as_levels(clips):
    """Clips (N, T, H, W, 3) float in [-1, 1] or uint8 -> float64 in uint8 levels (0-255), as a video would be."""
    clips = np.asarray(clips)
    if clips.ndim != 5:
        raise errors.UserInputError(f"clips must be (N, T, H, W, 3), got shape {clips.shape}")
    return (clips if clips.dtype == np.uint8 else data.to_uint8_numpy(clips)).astype(np.float64)


def frame_change(clips):
    """How much each clip moves: the mean absolute difference between consecutive frames, in uint8 levels.

    clips: (N, T, H, W, 3) float in [-1, 1] or uint8, T >= 2. Returns (N,) float64 >= 0; 0 = a still
    clip. Compared with real clips' values it shows whether generated clips move as much as footage
    does (a generator that ignores time scores near 0, one that flickers far above the real clips).
    """
    levels = _as_levels(clips)
    if levels.shape[1] < 2:
        raise errors.UserInputError(f"frame_change needs clips of at least 2 frames, got {levels.shape[1]}")
    return np.abs(np.diff(levels, axis=1)).mean(axis=(1, 2, 3, 4))


def clip_spread(clips):
    """How different clips are from one another: the standard deviation across clips of every pixel (frame,
    row, column, channel), averaged, in uint8 levels.

    clips: (N, T, H, W, 3) float in [-1, 1] or uint8, N >= 2. Returns a float >= 0; 0 = every clip the
    same (a collapsed generator), real clips of one scene give the spread to compare with.
    """
    levels = _as_levels(clips)
    if len(levels) < 2:
        raise errors.UserInputError(f"clip_spread needs at least 2 clips, got {len(levels)}")
    return float(levels.std(axis=0).mean())


def temporal_mean_diversity(clips):
    """How different clips are, with flicker averaged away: the mean over pairs of clips of the RMS distance
    (uint8 levels) between their temporal means.

    clips: (N, T, H, W, 3) float in [-1, 1] or uint8, N >= 2. Returns a float >= 0; 0 = every clip the
    same (a collapsed generator). Frame-to-frame noise enters only through 1/sqrt(T) of its size, where
    `clip_spread` (the per-pixel spread across clips) counts it in full: pure noise outscores footage there.
    """
    levels = _as_levels(clips)
    if len(levels) < 2:
        raise errors.UserInputError(f"temporal_mean_diversity needs at least 2 clips, got {len(levels)}")
    means = levels.mean(axis=1).reshape(len(levels), -1)
    squared = (means ** 2).sum(axis=1)
    distances = (squared[:, None] + squared[None, :] - 2 * means @ means.T) / means.shape[1]
    pairs = np.triu_indices(len(levels), k=1)
    return float(np.sqrt(np.clip(distances[pairs], 0.0, None)).mean())
