"""python -m reproduce.neural_dream end to end at a tiny size: both pipelines train, resume, evaluate and report."""

import pathlib
import re
import subprocess
import sys

import pytest

from videocore import video

REPO = pathlib.Path(__file__).resolve().parents[2]


def run(*args):
    return subprocess.run([sys.executable, "-m", "reproduce.neural_dream", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=1200)


@pytest.mark.slow  # two autoencoders and two sequence models on a bundled clip: 7 minutes under load here
def test_tiny_reproduction_writes_both_pipelines_and_keeps_the_written_analysis(tmp_path):
    clip = video.sample_clip("carphone")  # 120 frames: 96 trained on, 24 held out
    common = [f"--video={clip}", "--preset=tiny", f"--runs={tmp_path / 'runs'}", f"--docs={tmp_path / 'docs'}",
              f"--cache_dir={tmp_path / 'cache'}", "--seed_vae_epochs=2", "--seed_lstm_epochs=2",
              "--ours_vaegan_steps=6", "--dream_frames=10", "--long_dream_frames=30"]
    first = run(*common, "--ours_sequence_steps=4")
    assert first.returncode == 0, first.stderr[-3000:]
    path = tmp_path / "docs" / "neural_dream.md"
    report = path.read_text()
    assert "--ours_sequence_steps=4" in report
    # Budgets: the seed's VAE ran 2 of the notebook's 100 epochs (12 steps each at batch 8 on 96 frames).
    assert "| seed | VAE (MLP) | 24 (2.0 epochs) | 1,200 = 100 epochs (the notebook) | 2% |" in report
    assert "| ours | MDN-LSTM 512, K=5 | 4 (" in report
    # Three predictors per pipeline, copy-last first: its ratio to itself is 1.
    rows = re.findall(r"^\| (seed|ours) \| (copy the last latent|linear extrapolation|sequence model) \| "
                      r"([\d.]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|$", report, re.M)
    assert [row[:2] for row in rows] == [(key, name) for key in ("seed", "ours") for name in (
        "copy the last latent", "linear extrapolation", "sequence model")]
    assert all(float(row[3]) == 1.0 for row in rows if row[1] == "copy the last latent")
    assert re.search(r"^\| seed dream \| noise 0.1 \(uniform\), L2 prediction; 1 seed latent \| 10 \|", report, re.M)
    assert re.search(r"^\| ours dream \| no feedback noise, temperature 1; 8 seed latents \| 10 \|", report, re.M)
    figures = tmp_path / "docs" / "neural_dream"
    for name in ("seed_dream.jpg", "seed_long_dream.jpg", "ours_dream.jpg", "ours_long_dream.jpg"):
        assert (figures / name).stat().st_size < 150_000 and f"(neural_dream/{name})" in report
    assert video.probe(tmp_path / "runs" / "seed_sequence" / "long_dream.mp4").frame_count == 30
    assert "## What this shows" in report and not list(tmp_path.rglob("*.partial*"))

    # A written analysis survives; a larger budget resumes only what it extends.
    path.write_text(report.replace("_To be written from the tables and figures above._", "Hand-written."))
    second = run(*common, "--ours_sequence_steps=6", "--pipelines=ours")
    assert second.returncode == 0, second.stderr[-3000:]
    assert (tmp_path / "runs" / "ours_sequence" / "checkpoints" / "ckpt-6.index").exists()
    assert "resumed from" in second.stderr
    again = run(*common, "--ours_sequence_steps=6", "--evaluate_only")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "training" not in again.stdout
    report = path.read_text()
    assert report.rstrip().endswith("Hand-written.") and "| ours | MDN-LSTM 512, K=5 | 6 (" in report


def test_bad_flags_and_missing_runs_are_one_line(tmp_path):
    clip = video.sample_clip("carphone")
    bad = run(f"--video={clip}", "--pipelines=seed,juliani", f"--runs={tmp_path}", f"--docs={tmp_path}")
    assert bad.returncode == 1 and bad.stderr.strip().splitlines()[-1] == (
        "error: --pipelines: unknown juliani; choose from seed, ours")
    missing = run(f"--video={clip}", "--evaluate_only", "--preset=tiny", f"--runs={tmp_path / 'none'}",
                  f"--docs={tmp_path}", "--pipelines=seed")
    assert missing.returncode == 1 and "no seed runs to evaluate" in missing.stderr.strip().splitlines()[-1]
    assert "Traceback" not in missing.stderr
    nothing = run(f"--video={tmp_path / 'absent.mp4'}", f"--runs={tmp_path}", f"--docs={tmp_path}")
    assert nothing.returncode == 1 and "absent.mp4" in nothing.stderr.strip().splitlines()[-1]
