"""python -m reproduce.relive end to end at the quick size: trains, resumes, evaluates, writes the report and figures."""

import re

import pytest

from tests import reproduce as reproduce_tests
from videocore import video

run = reproduce_tests.runner("relive")


@pytest.mark.slow
def test_quick_reproduction_writes_the_report_keeps_notes_and_resumes(tmp_path):
    clip = video.sample_clip("carphone")  # 120 frames: 96 trained on, 24 held out (3 clips of 8)
    docs = tmp_path / "docs"
    common = [f"--video={clip}", "--config=relive/configs.py:quick", f"--runs={tmp_path / 'runs'}", f"--docs={docs}",
              f"--cache_dir={tmp_path / 'cache'}", "--config.loop.precision=float32",
              "--config.loop.log_every_steps=1"]
    bad_steps = run(*common, "--variant_steps=b=0")
    assert bad_steps.returncode == 1 and "--variant_steps: 'b=0'" in bad_steps.stderr.strip().splitlines()[-1]
    first = run(*common, "--steps=3", "--variants=a,c")
    assert first.returncode == 0, first.stderr[-3000:]
    report = (docs / "relive.md").read_text()
    assert "24 frames" in report and "Clips of 8x16x16" in report
    # Table rows: the two real references, then per variant the untrained generator and the run (c: + still photo).
    assert re.search(r"^\| real, training span \| – \| – \| [\d.]+ \| [\d.]+ ± [\d.]+ \| [\d.]+ \| – \|$", report, re.M)
    runs = re.findall(r"^\| \*\*\((\w)\) [^|]+\*\* \| (\d+) \| ([\d.]+|n/a) \| \*\*([\d.]+)\*\* \|", report, re.M)
    assert [(key, steps) for key, steps, _, _ in runs] == [("a", "3"), ("c", "3")]
    assert len(re.findall(r"^\| \(\w\) untrained generator \| 0 \|", report, re.M)) == 2
    assert re.search(r"^\| \(c\) baseline: the photo, still \| .* \| [\d.]+ \|$", report, re.M)
    assert "(b)" not in report.split("## Samples")[1].split("## Predictor")[0]
    figures = sorted(path.name for path in (docs / "relive").iterdir())
    assert {"a_samples", "c_samples", "c_photo", "real_held_out"} == {name.split(".")[0] for name in figures}
    for name in figures:
        assert (docs / "relive" / name).stat().st_size < 150_000 and f"(relive/{name})" in report
    assert "relive_predictor_table.md" in report.split("## Predictor")[1]
    assert not list(tmp_path.rglob("*.tmp*"))

    # Hand-written notes survive a rewrite; the predictor's table is copied in once it exists.
    notes = "## What this shows and what it does not\n\nNOTE KEPT"
    (docs / "relive.md").write_text(report.replace("_To be written from the table and figures above._", "NOTE KEPT"))
    (docs / "relive_predictor_table.md").write_text("# Predictors\n\nPROSE LEFT OUT\n\n| predictor | PSNR |\n|---|---|\n"
                                                    "| copy last | 30.0 |\n\nMORE PROSE\n")
    second = run(*common, "--steps=4", "--variants=a")
    assert second.returncode == 0, second.stderr[-3000:]
    assert (tmp_path / "runs" / "a" / "checkpoints" / "ckpt-4.index").exists()
    assert "resumed from" in second.stderr
    report = (docs / "relive.md").read_text()
    predictor = report.split("## Predictor")[1]
    assert notes in report and "| predictor | PSNR |\n|---|---|\n| copy last | 30.0 |" in predictor
    assert "PROSE" not in predictor
    assert re.search(r"^\| \*\*\(a\) [^|]+\*\* \| 4 \|", report, re.M)
    again = run(*common, "--evaluate_only")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "training to step" not in again.stdout and "(c) conditional WGAN-GP, middle frame: step 3" in again.stdout


def test_bad_flags_and_missing_runs_are_one_line(tmp_path):
    clip = video.sample_clip("carphone")
    bad = run(f"--video={clip}", "--variants=a,z", f"--runs={tmp_path}", f"--docs={tmp_path}")
    assert bad.returncode == 1 and bad.stderr.strip().splitlines()[-1] == (
        "error: --variants: unknown z; choose from a, b, c")
    missing = run(f"--video={clip}", "--evaluate_only", f"--runs={tmp_path / 'none'}", f"--docs={tmp_path}",
                  "--variants=b")
    assert missing.returncode == 1 and "no run to evaluate" in missing.stderr.strip().splitlines()[-1]
    assert "Traceback" not in missing.stderr
