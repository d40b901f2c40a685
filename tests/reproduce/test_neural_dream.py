"""python -m reproduce.neural_dream end to end at a tiny size: both pipelines train, resume, evaluate and report."""

import re

import pytest

from tests import reproduce as reproduce_tests
from videocore import video

run = reproduce_tests.runner("neural_dream")


def clips():
    """Whole bundled clips as the split: train on carphone, choose on bigbuckbunny, test on bikes."""
    return [f"--train={video.sample_clip('carphone')}", f"--validation={video.sample_clip('bigbuckbunny')}",
            f"--test={video.sample_clip('bikes')}"]


@pytest.mark.slow  # two autoencoders and two sequence models on a bundled clip: ~5 minutes under load here
def test_tiny_reproduction_writes_both_pipelines_and_keeps_the_written_analysis(tmp_path):
    common = [*clips(), "--preset=tiny", f"--runs={tmp_path / 'runs'}", f"--docs={tmp_path / 'docs'}",
              f"--cache_dir={tmp_path / 'cache'}", "--seed_vae_epochs=2", "--seed_lstm_epochs=2",
              "--ours_vaegan_steps=6", "--max_windows=6", "--dreams=2", "--long_dream_frames=30"]
    first = run(*common, "--ours_sequence_steps=4")
    assert first.returncode == 0, first.stderr[-3000:]
    path = tmp_path / "docs" / "neural_dream.md"
    report = path.read_text()
    assert "--ours_sequence_steps=4" in report and "trained on carphone_pristine; validation bigbuckbunny" in report
    # Budgets: the seed's VAE ran 2 of the notebook's 100 epochs (15 steps each at batch 8 on 120 frames).
    assert "| seed | VAE (MLP) | 30 (2.0 epochs) | 1,500 = 100 epochs (the notebook) | 2% |" in report
    assert "| ours | MDN-LSTM 512, K=5 | 4 (" in report
    # Per split, pipeline and horizon: five predictors, each a mean with its interval around it.
    for split in ("validation", "test"):
        section = report.split(f"## Next frames on the {split} clips")[1].split("## ")[0]
        rows = re.findall(r"^\| (seed|ours) \| ([^|]+) \| (-?[\d.]+) \[(-?[\d.]+), (-?[\d.]+)\] \| (-?[\d.]+) \[[-\d., ]+\] "
                          r"\| (-?[\d.]+) \[", section, re.M)
        assert len(rows) == 2 * 2 * 5, section  # PSNR and SSIM tables
        for _, _, value, low, high, _, _ in rows:
            assert float(low) <= float(value) <= float(high)
        psnr = {(key, name.strip("* ")): (float(one), float(ten)) for key, name, one, _, _, _, ten in rows[:10]}
        copy_one, copy_ten = psnr["seed", "copy the last frame"]
        assert copy_one > copy_ten  # real footage drifts away from its last frame
    dreams = report.split("## Dreams")[1]
    assert re.search(r"^\| seed \| noise 0.1 \(uniform\), L2 prediction \| [\d.]+ \[", dreams, re.M)
    assert re.search(r"^\| ours \| no feedback noise, temperature 1 \| [\d.]+ \[.* \| [\d.]+ \(2 dreams\) \|",
                     dreams, re.M)
    figures = tmp_path / "docs" / "neural_dream"
    for name in ("seed_dream.jpg", "seed_long_dream.jpg", "ours_dream.jpg", "ours_long_dream.jpg"):
        assert (figures / name).stat().st_size < 150_000 and f"(neural_dream/{name})" in report
    assert "## What this shows" in report and not list(tmp_path.rglob("*.partial*"))

    # A written analysis survives; a larger budget resumes only what it extends.
    kept = report.split("## What this shows")[1].split("<!--")[0]
    path.write_text(report.replace(kept, "\n\nHand-written.\n"))
    second = run(*common, "--ours_sequence_steps=6", "--pipelines=ours")
    assert second.returncode == 0, second.stderr[-3000:]
    assert (tmp_path / "runs" / "ours_sequence" / "checkpoints" / "ckpt-6.index").exists()
    assert "resumed from" in second.stderr
    again = run(*common, "--ours_sequence_steps=6", "--evaluate_only")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "training" not in again.stdout
    report = path.read_text()
    assert "Hand-written." in report and "| ours | MDN-LSTM 512, K=5 | 6 (" in report


def test_bad_flags_and_missing_runs_are_one_line(tmp_path):
    bad = run(*clips(), "--pipelines=seed,juliani", f"--runs={tmp_path}", f"--docs={tmp_path}")
    assert bad.returncode == 1 and bad.stderr.strip().splitlines()[-1] == (
        "error: --pipelines: unknown juliani; choose from seed, ours")
    carphone = video.sample_clip("carphone")
    shared = run(f"--train={carphone}", f"--validation={carphone}", f"--runs={tmp_path}", f"--docs={tmp_path}")
    assert shared.returncode == 1 and "split by whole clip" in shared.stderr.strip().splitlines()[-1]
    missing = run(*clips(), "--evaluate_only", "--preset=tiny", f"--runs={tmp_path / 'none'}",
                  f"--docs={tmp_path}", "--pipelines=seed")
    assert missing.returncode == 1 and "no seed runs to evaluate" in missing.stderr.strip().splitlines()[-1]
    assert "Traceback" not in missing.stderr
    nothing = run(f"--train={tmp_path / 'absent.mp4'}", "--validation=x.mp4", "--test=y.mp4", f"--runs={tmp_path}",
                  f"--docs={tmp_path}")
    assert nothing.returncode == 1 and "absent.mp4" in nothing.stderr.strip().splitlines()[-1]
