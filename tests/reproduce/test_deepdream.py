"""python -m reproduce.deepdream end to end at a small size: the modes table with intervals, figures and stills."""

import pathlib
import re
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


def run(*args):
    return subprocess.run([sys.executable, "-m", "reproduce.deepdream", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=1200)


@pytest.mark.slow  # four short dreams and three stills: about two minutes on 2 cores
def test_modes_table_and_stills(tmp_path):
    docs, stills = tmp_path / "docs", tmp_path / "stills"
    done = run("--seconds=0.3", "--size=192x82", f"--docs={docs}", f"--stills={stills}")
    assert done.returncode == 0, done.stderr[-3000:]
    report = (docs / "deepdream.md").read_text()
    # One row per mode after the source's floor, each warping error with its interval.
    cells = re.findall(r"^\| `(\w+)` \| ([\d.]+) \[([\d.]+), ([\d.]+)\] \|", report, re.M)
    assert [name for name, *_ in cells] == ["independent", "blend", "flow", "flow_plain"]
    for _, value, low, high in cells:
        assert float(low) <= float(value) <= float(high)
    errors = {name: float(value) for name, value, _, _ in cells}
    assert errors["flow"] < errors["independent"]  # the point of the second seed: steadier than frame by frame
    for name in ("independent", "blend", "flow"):
        assert (docs / "deepdream" / f"{name}_middle.jpg").stat().st_size > 1000
        assert (stills / f"deepdream_{name}.jpg").stat().st_size < 300 * 1024
    assert "python -m reproduce.deepdream --seconds=0.3" in report

    bad = run("--parts=modes,nope", f"--docs={docs}")
    assert bad.returncode == 1 and bad.stderr.strip().splitlines()[-1] == (
        "error: --parts: unknown nope; choose from modes, stills")
