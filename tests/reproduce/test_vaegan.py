"""python -m reproduce.vaegan end to end at a tiny size: trains, resumes, evaluates, writes the report and figures."""

import re

import pytest

from tests import reproduce as reproduce_tests
from videocore import video

run = reproduce_tests.runner("vaegan")


@pytest.mark.slow
def test_tiny_reproduction_writes_the_report_and_resumes(tmp_path):
    clip = video.sample_clip("carphone")  # 120 frames: 96 trained on, 24 held out
    common = [f"--video={clip}", "--preset=tiny", f"--runs={tmp_path / 'runs'}", f"--docs={tmp_path / 'docs'}",
              f"--cache_dir={tmp_path / 'cache'}", "--variants=a,c"]
    first = run(*common, "--steps=6")
    assert first.returncode == 0, first.stderr[-3000:]
    report = (tmp_path / "docs" / "vaegan.md").read_text()
    assert "## (a) dissertation, noise schedule" in report and "## (c) pixel-wise MSE similarity" in report
    assert "## (b)" not in report
    assert "--steps=6" in report and "Budget: 6 steps trained of 6; 1 steps per schedule entry" in report
    # One table row per variant: frames, FID, PSNR, SSIM, collapse ratio, step time, all numbers.
    rows = re.findall(r"^\| (\d+) \| ([\d.]+) \| ([\d.]+) \| (-?[\d.]+) \| ([\d.]+) \| ([\d.]+) \|$", report, re.M)
    assert len(rows) == 2 and all(row[0] == "24" for row in rows)
    figures = tmp_path / "docs" / "vaegan"
    for key in ("a", "c"):
        names = [f"{key}_fig5_{i}.jpg" for i in range(1, 9)] + [f"{key}_fig6_4.jpg"]
        for name in names:
            assert (figures / name).is_file() and (figures / name).stat().st_size < 300_000, name
            assert f"(vaegan/{name})" in report
    assert not list(tmp_path.rglob("*.tmp"))
    # A larger budget resumes the same runs; --evaluate_only trains nothing and rewrites the report.
    second = run(*common, "--steps=8", "--variants=a")
    assert second.returncode == 0, second.stderr[-3000:]
    assert (tmp_path / "runs" / "a" / "checkpoints" / "ckpt-8.index").exists()
    assert "resumed from" in second.stderr
    again = run(*common, "--steps=8", "--evaluate_only", "--variants=a")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "training to step" not in again.stdout and "Budget: 8 steps trained of 8" in (
        tmp_path / "docs" / "vaegan.md").read_text()


@pytest.mark.slow  # four subprocesses: ~14 s
def test_bad_flags_and_missing_runs_are_one_line(tmp_path):
    clip = video.sample_clip("carphone")
    bad = run(f"--video={clip}", "--variants=a,z", f"--runs={tmp_path}", f"--docs={tmp_path}")
    assert bad.returncode == 1 and bad.stderr.strip().splitlines()[-1] == (
        "error: --variants: unknown z; choose from a, b, c")
    missing = run(f"--video={clip}", "--evaluate_only", "--preset=tiny", f"--runs={tmp_path / 'none'}",
                  f"--docs={tmp_path}", "--variants=b")
    assert missing.returncode == 1 and "no run to evaluate" in missing.stderr.strip().splitlines()[-1]
    assert "Traceback" not in missing.stderr


def test_a_hand_written_claims_section_survives_regeneration(tmp_path):
    from reproduce import report as reports
    from reproduce import vaegan

    path = tmp_path / "vaegan.md"
    template = [vaegan.CLAIMS_HEADING, "", *vaegan.CLAIMS_TEMPLATE]
    kept = lambda steps: reports.kept_section(path, vaegan.CLAIMS_HEADING, vaegan.CLAIMS_TEMPLATE,  # noqa: E731
                                              [f"{steps} steps per variant"])
    assert kept(36) == template  # no report yet
    reports.write_report(path, ["# R", ""], template)
    assert kept(36) == template  # still unwritten
    written = [vaegan.CLAIMS_HEADING, "", "At **36 steps per variant** nothing holds yet."]
    reports.write_report(path, ["# R", ""], written)
    assert kept(36) == written
    stale = kept(120)  # the runs went on: the text is kept, flagged
    assert stale[0] == vaegan.CLAIMS_HEADING and stale[2].startswith("> **Written for an earlier budget")
    assert stale[-1].startswith("At **36 steps")
    reports.write_report(path, ["# R, rewritten at 120 steps", ""], stale)
    assert kept(120) == stale  # flagged once, not once per rewrite
