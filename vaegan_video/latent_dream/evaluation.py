"""Scores of a latent sequence model's predictions and dreams beside the trivial baselines (copy-last, linear).

Used by reproduce/neural_dream.py; pure numpy.
"""

import numpy as np

from videocore import metrics


def baselines(mu, cut):
    """Next-latent error of the trivial predictors on the held-out transitions into frames cut..N-1.

    mu: (N, D) latents of a whole video, the first `cut` of them trained on (cut >= 2). Returns the
    mean squared error per dimension of copying the last latent ("copy_last") and of extrapolating
    the last two linearly ("linear"), and "variance": the held-out latents' variance over time,
    averaged over dimensions (the error of predicting their mean, for a scale-free ratio).
    """
    mu = np.asarray(mu, np.float64)
    if not 2 <= cut < len(mu):
        raise ValueError(f"cut={cut}: need 2 <= cut < {len(mu)} (two trained frames, one held out)")
    target = mu[cut:]
    copy_last = mu[cut - 1:-1]
    linear = 2 * mu[cut - 1:-1] - mu[cut - 2:-2]
    return {"copy_last": float(np.mean(np.square(copy_last - target))),
            "linear": float(np.mean(np.square(linear - target))),
            "variance": float(np.mean(target.var(axis=0)))}


def motion(frames):
    """(motion, jerk) of frames (T, H, W, C) uint8: mean absolute first and second difference over
    time, 0-255 per value. Motion 0 = a still picture; lower jerk = smoother."""
    frames = np.asarray(frames, np.float32)
    if len(frames) < 3:
        raise ValueError(f"need at least 3 frames to measure motion and jerk, got {len(frames)}")
    first = np.abs(np.diff(frames, axis=0)).mean()
    second = np.abs(frames[2:] - 2 * frames[1:-1] + frames[:-2]).mean()
    return float(first), float(second)


def spread(z):
    """How much latents (T, D) vary over time: their standard deviation over T, averaged over D."""
    return float(np.asarray(z, np.float64).std(axis=0).mean())


def dream_scores(dream_frames, dream_z, real_frames, reconstructed, real_z):
    """A dream against the real frames that followed its seed and their reconstructions (same size).

    Returns motion and jerk of the dream, the temporal collapse ratios (dream motion over that of the
    reconstruction and of the real frames; 0 = frozen, 1 = moves as much) and "z_spread_ratio", the
    dream's latent spread over that of the real latents (0 = the latents stopped moving).
    """
    moving, jerk = motion(dream_frames)
    return {"motion": moving, "jerk": jerk,
            "collapse_vs_reconstruction": metrics.temporal_collapse_ratio(dream_frames, reconstructed),
            "collapse_vs_real": metrics.temporal_collapse_ratio(dream_frames, real_frames),
            "z_spread_ratio": spread(dream_z) / max(spread(real_z), 1e-12)}
