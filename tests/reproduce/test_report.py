"""reproduce.report: intervals, tables, figures under a size limit, cached results and the kept hand-written text."""

import numpy as np
import pytest

from reproduce import report as reports


def test_bootstrap_interval_covers_the_mean_and_narrows_with_more_data():
    rng = np.random.default_rng(1)
    small, large = rng.normal(10, 2, 30), rng.normal(10, 2, 3000)
    low, high = reports.bootstrap_interval(small)
    assert low < small.mean() < high
    # The interval of the mean shrinks like 1/sqrt(N): 2 * 1.96 * 2 / sqrt(30) = 1.43 wide here.
    assert 1.0 < high - low < 1.9
    large_low, large_high = reports.bootstrap_interval(large)
    assert large_high - large_low < (high - low) / 5
    assert reports.bootstrap_interval(small) == (low, high)  # seeded: a rewritten report does not move


def test_block_bootstrap_widens_the_interval_of_correlated_scores():
    # Scores of neighbouring frames move together: a slow random walk. Resampling single frames treats
    # them as independent and is too narrow; blocks keep the correlation.
    walk = np.cumsum(np.random.default_rng(2).normal(0, 1, 400))
    single = np.subtract(*reversed(reports.bootstrap_interval(walk)))
    blocks = np.subtract(*reversed(reports.bootstrap_interval(walk, block=40)))
    assert blocks > 2 * single


def test_table_and_interval_cells():
    lines = reports.table(["model", "PSNR"], [["copy-last", reports.with_interval(20.0, (19.5, 20.25))]])
    assert lines == ["| model | PSNR |", "|---|---|", "| copy-last | 20.00 [19.50, 20.25] |"]
    assert reports.number(None) == "n/a" and reports.number(1.234, 2) == "1.23"


def test_a_figure_too_large_for_png_becomes_a_jpeg_under_the_limit(tmp_path):
    flat = np.full((64, 64, 3), 128, np.uint8)
    assert reports.save_figure(tmp_path / "flat", flat).suffix == ".png"
    noise = np.random.default_rng(3).integers(0, 256, (400, 400, 3), dtype=np.uint8)
    written = reports.save_figure(tmp_path / "flat", noise, max_bytes=60_000)  # same stem, now too big for PNG
    assert written.suffix == ".jpg" and written.stat().st_size < 60_000
    assert not (tmp_path / "flat.png").exists()  # the stale PNG of the same figure is gone
    with pytest.raises(ValueError, match="cannot get the figure under 10 bytes"):
        reports.save_figure(tmp_path / "tiny", noise, max_bytes=10)
    assert not list(tmp_path.glob("tiny*"))


def test_cached_results_hold_only_for_their_identity(tmp_path):
    path = tmp_path / "run" / "results.json"
    assert reports.load_results(path, {"step": 10}) is None
    reports.save_results(path, {"step": 10, "holdout": 0.2}, {"psnr": np.float32(21.5)})
    assert reports.load_results(path, {"step": 10, "holdout": 0.2}) == {"psnr": 21.5}
    assert reports.load_results(path, {"step": 20, "holdout": 0.2}) is None  # a newer checkpoint: evaluate again


def test_the_kept_section_is_read_between_its_markers(tmp_path):
    path = tmp_path / "r.md"
    heading = "## What this shows"
    reports.write_report(path, ["# Report", "", "| a | b |"], [heading, "", "The runs learn nothing yet."])
    text = path.read_text()
    assert text.index(reports.BEGIN_KEPT) < text.index("The runs learn") < text.index(reports.END_KEPT)
    assert reports.kept_section(path, heading) == [heading, "", "The runs learn nothing yet."]
    path.write_text("# Old report without markers\n\n" + heading + "\n\nWritten by hand.\n")
    assert reports.kept_section(path, heading) == [heading, "", "Written by hand."]
    path.write_text("# Report\n\n" + heading + "\n\n_To be written from the tables and figures above._\n")
    assert reports.kept_section(path, heading, "_To be written._") == [heading, "", "_To be written._"]


def test_command_line_drops_the_flags_that_only_evaluate():
    command = reports.command_line("vaegan", ["--steps=8", "--evaluate_only", "--video=a b.mp4"])
    assert command == "python -m reproduce.vaegan --steps=8 '--video=a b.mp4'"


def test_bench_holds_only_benchmarks():
    import pathlib

    bench = pathlib.Path(__file__).resolve().parents[2] / "bench"
    assert sorted(path.name for path in bench.glob("*.py") if not path.name.startswith("bench_")) == []
