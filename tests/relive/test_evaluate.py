"""relive evaluation: next-frame PSNR against copying the last frame, by hand."""
import numpy as np
import pytest

from relive import evaluate


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
