"""python -m reproduce.deepdream end to end at a small size: the modes table with intervals, figures and stills."""

import re

import PIL.Image
import pytest

from tests import reproduce as reproduce_tests

run = reproduce_tests.runner("deepdream")


@pytest.mark.slow  # four short dreams and three stills: about two minutes on 2 cores
def test_modes_table_and_stills(tmp_path):
    docs, stills = tmp_path / "docs", tmp_path / "stills"
    done = run("--seconds=0.3", "--size=192x82", f"--docs={docs}", f"--stills={stills}")
    assert done.returncode == 0, done.stderr[-3000:]
    report = (docs / "deepdream.md").read_text()
    # One row per mode after the source's floor, each warping error with its interval.
    cells = re.findall(r"^\| `(\w+)` \| ([\d.]+) \[([\d.]+), ([\d.]+)\] \| [\d.]+x \| ([\d.]+) \[", report, re.M)
    assert [name for name, *_ in cells] == ["independent", "blend", "flow", "flow_plain"]
    for _, value, low, high, _ in cells:
        assert float(low) <= float(value) <= float(high)
    errors = {name: float(value) for name, value, _, _, _ in cells}
    changes = {name: float(change) for name, _, _, _, change in cells}
    # The point of the second seed: steadier than frame by frame, and flickering less.
    assert errors["flow"] < errors["independent"] and changes["flow"] < changes["independent"]
    assert (docs / "deepdream" / "modes_strip.jpg").stat().st_size < 150_000
    gif = PIL.Image.open(docs / "deepdream" / "independent_vs_flow.gif")
    count = int(re.search(r"at 192x82 \((\d+) frames\)", report).group(1))
    assert 7 <= count <= 8 and gif.width > 2 * 192  # 0.3 s at 25 fps, side by side
    # Every frame shown for 1/25 s (Pillow merges a frame equal to the one before into its duration).
    durations = []
    for index in range(gif.n_frames):
        gif.seek(index)
        durations.append(gif.info["duration"])
    first, last = map(int, re.search(r"`independent` \(left\) beside `flow` \(right\), frames (\d+)-(\d+)",
                                     report).groups())
    assert first == 0 and count - 1 <= last + 1 <= count  # every dreamed frame of so short a run
    assert sum(durations) == (last + 1 - first) * 40
    assert (docs / "deepdream" / "independent_vs_flow.gif").stat().st_size < 2 * 1024 * 1024
    for name in ("independent", "blend", "flow"):
        assert (stills / f"deepdream_{name}.jpg").stat().st_size < 300 * 1024
    assert "python -m reproduce.deepdream --seconds=0.3" in report

    bad = run("--parts=modes,nope", f"--docs={docs}")
    assert bad.returncode == 1 and bad.stderr.strip().splitlines()[-1] == (
        "error: --parts: unknown nope; choose from modes, stills")
