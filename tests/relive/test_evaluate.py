"""relive evaluation by hand: next-frame PSNR against copying the last frame, clip motion and spread."""
import numpy as np
import pytest

from relive import evaluate
from videocore import errors


def test_next_frame_psnr_pools_the_error_and_scores_the_copy_baseline():
    rng = np.random.default_rng(0)
    clips = rng.uniform(-1, 1, (3, 4, 8, 8, 3)).astype(np.float32)
    clips[:, 2] = clips[:, 1]  # a repeated frame: a per-frame mean would be infinite for copying

    def copy_current(frames, training=False):
        return frames

    def grey(frames, training=False):
        return np.zeros_like(frames)

    copied = evaluate.next_frame_psnr(copy_current, clips, batch_size=2)
    assert copied["predictor"] == pytest.approx(copied["copy_last"])
    as_uint8 = np.round((clips + 1) * 127.5).astype(np.float64)
    mse = np.mean((as_uint8[:, :-1] - as_uint8[:, 1:]) ** 2)
    assert copied["copy_last"] == pytest.approx(10 * np.log10(255 ** 2 / mse), rel=1e-6)
    grey_mse = np.mean((128 - as_uint8[:, 1:]) ** 2)
    assert evaluate.next_frame_psnr(grey, clips)["predictor"] == pytest.approx(10 * np.log10(255 ** 2 / grey_mse),
                                                                               rel=1e-6)


def test_frame_change_is_the_mean_absolute_step_between_frames_in_uint8_levels():
    clips = np.zeros((3, 4, 2, 2, 3), np.uint8)
    clips[0, 1::2] = 10  # 0, 10, 0, 10: every step is 10 levels
    clips[1, 1:] = 30  # one step of 30 and two of 0: 10 on average
    # clips[2] stays still
    assert evaluate.frame_change(clips) == pytest.approx([10.0, 10.0, 0.0])
    floats = np.full((1, 3, 2, 2, 3), -1.0, np.float32)
    floats[0, 1] = 1.0  # black, white, black: 255 levels each step
    assert evaluate.frame_change(floats) == pytest.approx([255.0])


def test_clip_spread_is_the_per_pixel_standard_deviation_across_clips():
    clips = np.zeros((2, 2, 2, 2, 3), np.uint8)
    clips[1] = 20  # two clips 20 levels apart: population std 10 at every pixel
    assert evaluate.clip_spread(clips) == pytest.approx(10.0)
    clips[1, :, 0] = 0  # half the pixels now agree: 10 on one half, 0 on the other
    assert evaluate.clip_spread(clips) == pytest.approx(5.0)
    assert evaluate.clip_spread(np.repeat(clips[:1], 4, axis=0)) == 0.0


def test_motion_and_spread_refuse_clips_they_cannot_measure():
    with pytest.raises(errors.UserInputError, match="at least 2 frames"):
        evaluate.frame_change(np.zeros((2, 1, 4, 4, 3), np.uint8))
    with pytest.raises(errors.UserInputError, match="at least 2 clips"):
        evaluate.clip_spread(np.zeros((1, 3, 4, 4, 3), np.uint8))
    with pytest.raises(errors.UserInputError, match=r"\(N, T, H, W, 3\)"):
        evaluate.frame_change(np.zeros((3, 4, 4, 3), np.uint8))
