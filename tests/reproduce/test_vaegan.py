"""python -m reproduce.vaegan end to end at a tiny size: trains, resumes, evaluates, writes the report and figures."""

import re

import pytest

from tests import reproduce as reproduce_tests
from videocore import video

run = reproduce_tests.runner("vaegan")


@pytest.mark.slow
def test_tiny_reproduction_writes_the_report_and_resumes(tmp_path):
    clip, unseen = video.sample_clip("carphone"), video.sample_clip("bikes")  # 120 frames: 96 trained, 24 held out
    common = [f"--clips={clip}", f"--unseen={unseen}", "--scale=tiny", "--schedule_steps=6", "--eval_frames=40",
              f"--runs={tmp_path / 'runs'}", f"--docs={tmp_path / 'docs'}", f"--cache_dir={tmp_path / 'cache'}",
              "--variants=a,f"]
    first = run(*common, "--steps=6")
    assert first.returncode == 0, first.stderr[-3000:]
    report = (tmp_path / "docs" / "vaegan.md").read_text()
    assert "Not a full-size result" in report and "Budget: 6 steps per variant" in report
    assert "- Training: carphone_pristine.mp4 [:3.203]." in report and "bikes.mp4" in report
    # Per set, the two baselines and the two variants, each PSNR / SSIM / sharpness with an interval around it.
    for heading in ("### Held-out spans and clips", "### Training span", "### Unseen clip"):
        section = report.split(heading)[1].split("###")[0]
        rows = re.findall(r"^\| ([^|]+) \| (\d+) \| ([\d.]+) \[([\d.]+), ([\d.]+)\] \|", section, re.M)
        assert [row[0][:3] for row in rows] == ["bas", "bas", "(a)", "(f)"], section
        for _, frames, value, low, high in rows:
            assert float(low) <= float(value) <= float(high)
    held_out = report.split("### Held-out spans and clips")[1].split("###")[0]
    assert re.search(r"^\| \(a\) [^|]+ \| 24 \|( [^|]+ \|){4} \d+ \| \d+ \|$", held_out, re.M)  # FID x_bar, x_p
    # The discriminator per tenth of each run; the equilibrium rule's updates counted.
    dis = report.split("## The discriminator over each run")[1].split("## Figures")[0]
    assert "| up to step | D(x) | D(x_bar) | D(x_p) | Dis updated | Dec updated |" in dis
    figures = tmp_path / "docs" / "vaegan"
    for key in ("a", "f"):
        for name in (f"{key}_fig5_1-6.jpg", f"{key}_real_vs_reconstructed.jpg", f"{key}_fig6_4.jpg"):
            assert (figures / name).stat().st_size < 300_000 and f"(vaegan/{name})" in report, name
    assert not list(tmp_path.rglob("*.tmp"))
    # A larger budget resumes the same run; --evaluate_only trains nothing and rewrites the report.
    second = run(*common, "--steps=8", "--variants=a", "--train_only")
    assert second.returncode == 0, second.stderr[-3000:]
    assert (tmp_path / "runs" / "a" / "checkpoints" / "ckpt-8.index").exists()
    assert "resumed from" in second.stdout + second.stderr
    again = run(*common, "--steps=8", "--evaluate_only")
    assert again.returncode == 0, again.stderr[-3000:]
    report = (tmp_path / "docs" / "vaegan.md").read_text()
    assert "training to step" not in again.stdout and "| (a) dissertation: learned similarity, noise schedule | 8 |" in report


@pytest.mark.slow  # three subprocesses
def test_bad_flags_and_missing_runs_are_one_line(tmp_path):
    clip = video.sample_clip("carphone")
    bad = run(f"--clips={clip}", "--variants=a,z", f"--runs={tmp_path}", f"--docs={tmp_path}")
    assert bad.returncode == 1 and bad.stderr.strip().splitlines()[-1] == (
        "error: --variants: unknown z; choose from a, b, c, d, e, f")
    missing = run(f"--clips={clip}", "--evaluate_only", "--scale=tiny", f"--runs={tmp_path / 'none'}",
                  f"--docs={tmp_path}")
    assert missing.returncode == 1 and "no trained variant to evaluate" in missing.stderr.strip().splitlines()[-1]
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
