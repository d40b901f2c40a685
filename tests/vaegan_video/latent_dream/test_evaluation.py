"""The dream scores against hand-computed values: baselines of next-latent error, motion, jerk, spread, collapse."""

import numpy as np
import pytest

from vaegan_video.latent_dream import evaluation


def test_baselines_on_a_line_and_a_parabola():
    # z_t = t on a straight line: copying the last latent is off by 1, extrapolating exact.
    line = np.arange(10, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32)
    scores = evaluation.baselines(line, cut=7)  # held out: frames 7, 8, 9
    assert scores["copy_last"] == pytest.approx(1.0) and scores["linear"] == pytest.approx(0.0)
    assert scores["variance"] == pytest.approx(np.var([7, 8, 9]))
    # z_t = t^2: copy-last misses by 2t - 1, the line by the constant second difference 2.
    parabola = (np.arange(6, dtype=np.float64) ** 2)[:, None]
    scores = evaluation.baselines(parabola, cut=4)  # targets 16, 25 from 9 (and 4), 16 (and 9)
    assert scores["copy_last"] == pytest.approx((7 ** 2 + 9 ** 2) / 2)
    assert scores["linear"] == pytest.approx(4.0)
    with pytest.raises(ValueError, match="cut=1"):
        evaluation.baselines(parabola, cut=1)
    with pytest.raises(ValueError, match="cut=6"):
        evaluation.baselines(parabola, cut=6)


def test_motion_and_jerk_of_a_steady_ramp_and_of_flicker():
    ramp = np.stack([np.full((2, 2, 3), 10 * t, np.uint8) for t in range(5)])  # +10 every frame
    assert evaluation.motion(ramp) == pytest.approx((10.0, 0.0))
    flicker = np.stack([np.full((2, 2, 3), 50 * (t % 2), np.uint8) for t in range(5)])  # 0, 50, 0, 50, 0
    assert evaluation.motion(flicker) == pytest.approx((50.0, 100.0))
    with pytest.raises(ValueError, match="3 frames"):
        evaluation.motion(ramp[:2])


def test_dream_scores_a_frozen_dream_as_collapsed():
    real = np.stack([np.full((4, 4, 3), 10 * t, np.uint8) for t in range(6)])
    half = np.stack([np.full((4, 4, 3), 5 * t, np.uint8) for t in range(6)])  # half the motion
    frozen = np.repeat(real[:1], 6, axis=0)
    real_z = np.arange(6, dtype=np.float32)[:, None] * np.array([[1.0, -2.0]], np.float32)
    scores = evaluation.dream_scores(frozen, np.zeros((6, 2)), real, half, real_z)
    assert scores["motion"] == 0.0 and scores["collapse_vs_real"] == 0.0 and scores["z_spread_ratio"] == 0.0
    scores = evaluation.dream_scores(half, real_z / 2, real, half, real_z)
    assert scores["collapse_vs_real"] == pytest.approx(0.5) and scores["collapse_vs_reconstruction"] == 1.0
    assert scores["z_spread_ratio"] == pytest.approx(0.5) and scores["motion"] == pytest.approx(5.0)
    assert evaluation.spread(real_z) == pytest.approx(np.std(np.arange(6)) * 1.5)
