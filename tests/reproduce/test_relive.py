"""python -m reproduce.relive end to end at the quick size: trains, resumes, evaluates, writes the report and figures."""

import json
import re

import pytest

from tests import reproduce as reproduce_tests
from videocore import video

run = reproduce_tests.runner("relive")


def _split():
    """Whole clips: carphone trains, bikes validates, bigbuckbunny tests (the report's default is ASL footage)."""
    return [f"--train={video.sample_clip('carphone')}", f"--validation={video.sample_clip('bikes')}",
            f"--test={video.sample_clip('bigbuckbunny')}"]


@pytest.mark.slow
def test_quick_reproduction_writes_the_report_keeps_notes_and_resumes(tmp_path):
    docs = tmp_path / "docs"
    runs = tmp_path / "runs" / "8x16x16_x0.0625"
    common = [*_split(), "--config=relive/configs.py:quick", "--size=8x16x16", "--multiplier=0.0625",
              f"--runs={tmp_path / 'runs'}", f"--docs={docs}", f"--cache_dir={tmp_path / 'cache'}",
              "--config.loop.precision=float32", "--config.loop.log_every_steps=1", "--eval_every=2",
              "--eval_frames=16", "--clips=6"]
    bad_steps = run(*common, "--variant_steps=b=0")
    assert bad_steps.returncode == 1 and "--variant_steps: 'b=0'" in bad_steps.stderr.strip().splitlines()[-1]
    bad_size = run(*common, "--size=8x16x32")
    assert bad_size.returncode == 1 and "--size='8x16x32'" in bad_size.stderr.strip().splitlines()[-1]
    first = run(*common, "--steps=4", "--variants=a,c")
    assert first.returncode == 0, first.stderr[-3000:]
    # The seed's widths times 1/16 at 8x16x16: two doublings, so each network keeps its two coarsest layers.
    config = json.loads((runs / "c" / "config.json").read_text())
    assert config["generator"]["latent_shape"] == [2, 4, 4, 32] and config["generator"]["filters"] == [16]
    assert config["critic"]["filters"] == [16, 32] and config["encoder"]["noise_channels"] == 4
    report = (docs / "relive.md").read_text()
    assert "6 windows" in report and "48 frames counted" in report and "Clips of 8x16x16" in report
    assert "Trained on carphone" in report and "on bikes" in report
    # Real references first, then per variant the untrained generator and the run (c: + the still photo).
    assert re.search(r"^\| real, training clips \| – \| – \| [\d.]+ \| [\d.]+ \(x[\d.]+\) \| [\d.]+ \| – \| – \|$",
                     report, re.M)
    interval = r"([\d.]+) \[([\d.]+), ([\d.]+)\]"
    runs_found = re.findall(rf"^\| \*\*\((\w)\) [^|]+\*\* \| (\d+) \| [\d.]+ \| \*\*{interval}\*\* \|", report, re.M)
    assert [(key, steps) for key, steps, *_ in runs_found] == [("a", "4"), ("c", "4")]
    for _, _, value, low, high in runs_found:
        assert float(low) <= float(value) <= float(high) or float(value) > float(high) >= float(low)
    assert len(re.findall(r"^\| \(\w\) untrained generator \| 0 \|", report, re.M)) == 2
    assert re.search(rf"^\| \(c\) baseline: the photo, still \| .* \| {interval} \| – \|$", report, re.M)
    assert re.search(r"^\| \(a\) \| 2 \(2-4\) \| ", report, re.M)  # FID at steps 2 and 4 beside the estimate
    # The critic probe: each run's critic scores training windows, copies with time broken or grain, generated clips.
    probes = re.findall(r"^\| \((\w)\) \| ([^|]+) \| ([\d.]+) \| (-?[\d.]+) \| ([^|]+) \|$",
                        report.split("## Does the critic punish flicker?")[1], re.M)
    assert [key for key, *_ in probes] == ["a"] * 7 + ["c"] * 7
    rows = {(key, label.strip()): (float(change), shift.strip()) for key, label, change, _, shift in probes}
    for key in "ac":
        assert rows[(key, "training windows, unaltered")][1] == "–"
        assert rows[(key, "the same, first frame held still")][0] == 0.0
        assert rows[(key, "the same + grain redrawn every frame")][0] > rows[(key, "training windows, unaltered")][0]
        assert re.fullmatch(r"-?[\d.]+ \[-?[\d.]+, -?[\d.]+\]", rows[(key, "the generator's clips")][1])
    assert "(b)" not in report.split("## Samples")[1].split("## Predictor")[0]
    figures = sorted(path.name for path in (docs / "relive").iterdir())
    assert {"a_samples", "c_samples", "real_held_out", "wasserstein_fid"} == {name.split(".")[0] for name in figures}
    for name in figures:
        assert (docs / "relive" / name).stat().st_size < 150_000 and f"(relive/{name})" in report
    assert "python -m reproduce.relive --variants=a " in report
    assert not list(tmp_path.rglob("*.tmp*"))

    # Hand-written notes survive a rewrite; the predictor's table is copied in once it exists.
    notes = "## What this shows and what it does not\n\nNOTE KEPT"
    (docs / "relive.md").write_text(report.replace("_To be written from the table and figures above._", "NOTE KEPT"))
    (docs / "relive_predictor_table.md").write_text("# Predictors\n\nPROSE LEFT OUT\n\n| predictor | PSNR |\n|---|---|\n"
                                                    "| copy last | 30.0 |\n\nMORE PROSE\n")
    second = run(*common, "--steps=5", "--variants=a", "--train_only")
    assert second.returncode == 0, second.stderr[-3000:]
    assert (runs / "a" / "checkpoints" / "ckpt-5.index").exists() and "resumed from" in second.stderr
    assert "FID" not in second.stdout  # trained only: scored by the next command
    again = run(*common, "--evaluate_only")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "training to step" not in again.stdout and "(c) conditional WGAN-GP, middle frame: step 4" in again.stdout
    report = (docs / "relive.md").read_text()
    predictor = report.split("## Predictor")[1]
    assert notes in report and "| predictor | PSNR |\n|---|---|\n| copy last | 30.0 |" in predictor
    assert "PROSE" not in predictor
    assert re.search(r"^\| \*\*\(a\) [^|]+\*\* \| 5 \|", report, re.M)


def test_bad_flags_and_missing_runs_are_one_line(tmp_path):
    bad = run(*_split(), "--variants=a,z", f"--runs={tmp_path}", f"--docs={tmp_path}")
    assert bad.returncode == 1 and bad.stderr.strip().splitlines()[-1] == (
        "error: --variants: unknown z; choose from a, b, c")
    missing = run(*_split(), "--evaluate_only", f"--runs={tmp_path / 'none'}", f"--docs={tmp_path}", "--variants=b")
    assert missing.returncode == 1 and "no run to evaluate" in missing.stderr.strip().splitlines()[-1]
    assert "Traceback" not in missing.stderr
