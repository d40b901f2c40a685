"""`make demo`'s relive stage at a tiny budget, as a subprocess: the sample grid and the relived photo on disk."""
import pathlib
import subprocess
import sys

import numpy as np
import PIL.Image
import pytest

from videocore import video

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.slow  # three relive models of 2 steps each, in a subprocess: ~60 s
def test_relive_stage_relives_a_photo_from_another_clip(tmp_path):
    run = subprocess.run([sys.executable, "-m", "run_scripts.demo", f"--workdir={tmp_path}", "--budget=tiny",
                          "--stages=relive"], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    listed = [pathlib.Path(line.strip().rsplit(" (", 1)[0])
              for line in run.stdout.split("demo outputs:\n", 1)[1].splitlines() if line.startswith("  ")]
    names = {path.name for path in listed}
    assert {"relive_photo.gif", "relive_photo.mp4", "relive_photo_source.jpg"} <= names
    assert all(path.is_file() and path.stat().st_size > 0 for path in listed)
    assert (tmp_path / "relive_conditional" / "checkpoints").is_dir()
    assert (tmp_path / "relive_predictor" / "checkpoints").is_dir()
    with PIL.Image.open(tmp_path / "relive_photo_source.jpg") as photo:
        assert photo.format == "JPEG" and photo.size == (640, 272)  # a frame of bikes, not of carphone
    with PIL.Image.open(tmp_path / "relive_photo.gif") as gif:
        frames, size = gif.n_frames, gif.size
        first = np.asarray(gif.convert("RGB"))
    assert frames == 16  # configs.demo(): 16-frame clips; the roll-out is the photo + 15 frames
    assert size == (3 * 32 + 4 * 2, 32 + 2 * 2)  # three 32x32 clips side by side, 2-pixel padding
    info = video.probe(tmp_path / "relive_photo.mp4")
    assert info.frame_count == 16 and (info.width, info.height) == size
    # The first column is the photo itself: a picture, not a blank.
    assert first[2:34, 2:34].std() > 5
