"""reproduce.relive_predictor: its flow baseline and scores, and the script end to end on bundled clips."""

import json

import numpy as np
import pytest

from reproduce import relive_predictor
from tests import reproduce as reproduce_tests
from videocore import errors
from videocore import metrics

run = reproduce_tests.runner("relive_predictor")
GAINS = (0.25, 0.5, 0.75, 1.0)


def _moving_pattern(shift):
    """A smooth (32, 32, 3) pattern in [-1, 1] moved `shift` pixels to the right."""
    y, x = np.mgrid[0:32, 0:40]
    return (0.8 * np.sin((x - shift) / 3.0) * np.cos(y / 4.0))[:, 4:36, None].repeat(3, axis=-1).astype(np.float32)


def test_flow_extrapolation_carries_the_measured_motion_on_at_its_gain():
    frames = np.stack([_moving_pattern(0), _moving_pattern(1)])[None]  # (1, 2, H, W, 3), 1 px per frame
    inner = np.s_[4:-4, 4:-4]  # the border has no pixel to come from
    for gain in (1.0, 0.5):
        predicted, state = relive_predictor.FlowExtrapolation(gain).step(frames)
        assert predicted.shape == frames.shape and state.shape == (1, 1, 32, 32, 3)
        # The first frame has no frame before it: no motion, so it is copied.
        np.testing.assert_allclose(predicted[0, 0], frames[0, 0], atol=1e-5)
        error = np.abs(predicted[0, 1] - _moving_pattern(1 + gain))[inner].mean()
        copying = np.abs(frames[0, 1] - _moving_pattern(1 + gain))[inner].mean()
        assert error < 0.1 * copying, gain


def test_window_scores_and_intervals():
    rng = np.random.default_rng(0)
    windows = rng.integers(0, 256, (6, 12, 16, 16, 3), dtype=np.uint8)
    predicted = windows[:, 2:].copy()
    predicted[:, 4] = np.clip(predicted[:, 4].astype(int) + 10, 0, 255)  # roll-out step 5: off by 10 levels
    scores = relive_predictor.window_scores(predicted, windows)
    assert scores["mse"].shape == scores["ssim"].shape == (6, 3)
    assert np.all(scores["mse"][:, [0, 2]] == 0) and np.all(scores["mse"][:, 1] <= 100)
    # The per-frame SSIM is the one videocore.metrics.ssim averages.
    np.testing.assert_allclose(scores["ssim"][:, 1].mean(), metrics.ssim(predicted[:, 4], windows[:, 6]), rtol=1e-6)
    np.testing.assert_allclose(relive_predictor.pooled_psnr(np.array([100.0, 300.0])), 10 * np.log10(255 ** 2 / 200))
    row = relive_predictor.summary(scores, block=2)
    assert row["psnr_1"] == float("inf") and row["ssim_1"] == pytest.approx(1.0)
    low, high = row["psnr_5_interval"]
    assert low <= row["psnr_5"] <= high < float("inf")


def test_trains_then_scores_every_row_on_validation_and_test(tmp_path):
    with pytest.raises(errors.CheckpointError, match="no trained predictor run"):  # what --score_only checks first
        relive_predictor.check_trained(tmp_path / "predictor", "predictor")
    footage = ["--train=bundled:bigbuckbunny", "--validation=bundled:bikes", "--test=bundled:carphone", "--hop=6",
               "--models=predictor,seed", f"--workdir={tmp_path}", "--frame_size=16"]
    trained = run(*footage, "--train_only", "--steps=2", "--seed_steps=2", "--seed_width=0.125", "--eval_every=2")
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert (tmp_path / "predictor" / "best").is_dir() and (tmp_path / "seed" / "best").is_dir()
    assert not (tmp_path / "predictor_table.json").exists()

    scored = run(*footage, "--score_only")
    assert scored.returncode == 0, scored.stderr[-3000:]
    table = json.loads((tmp_path / "predictor_table.json").read_text())
    choice = table["gain_choice"]
    psnrs = {float(gain): db for gain, db in choice["validation_psnr"]["lucas_kanade"].items()}
    assert sorted(psnrs) == list(GAINS) and choice["chosen"]["lucas_kanade"] == max(psnrs, key=psnrs.get)
    assert choice["chosen"]["dis"] in GAINS
    assert table["windows"]["test"] == len(range(0, 120 - 12 + 1, 6)) and table["frame_size"] == 16
    for name in ("predictor", "seed"):  # trained on the frames scored
        assert json.loads((tmp_path / name / "config.json").read_text())["clip"]["frame_size"] == 16
    assert table["runs"]["predictor"]["steps"] == 2 and table["runs"]["predictor"]["velocity_gain"] == \
        choice["chosen"]["lucas_kanade"]
    assert table["runs"]["seed"]["units"] == 128
    names = ["copy_last", "untrained", "lucas_kanade_1", "dis", "predictor", "seed"]
    for split in ("validation", "test"):
        assert list(table["rows"][split]) == names
        for name, row in table["rows"][split].items():
            for key in ("psnr_1", "psnr_5", "psnr_10", "ssim_1", "ssim_5", "ssim_10"):
                low, high = row[f"{key}_interval"]
                assert low <= row[key] <= high < float("inf"), (split, name, key)
            assert np.shape(table["per_window"][split][name]["mse"]) == (table["windows"][split], 3)
    for split in ("validation", "test"):  # the validation one is what the size and gain were chosen on
        parts = table["headline"][split]
        np.testing.assert_allclose(parts["lead"]["db"], parts["from_start"]["db"] + parts["from_training"]["db"])
    assert table["headline"]["validation"]["lead"]["db"] != table["headline"]["test"]["lead"]["db"]
    assert "validation, PSNR 5 (dB): lead" in scored.stdout and "test, PSNR 5 (dB): lead" in scored.stdout
    assert "| copy the last frame | test |" in scored.stdout
    assert "| predictor (trained) | validation |" in (tmp_path / "predictor_table.md").read_text()
    assert (tmp_path / "predictor_rollout.jpg").stat().st_size > 1000
