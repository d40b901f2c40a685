"""videocore's scripts as the user runs them (subprocesses on real files): transcode's output is opened and checked."""
import pathlib
import subprocess
import sys

import numpy as np

from videocore import video

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_transcode_script_crops_resizes_cuts_and_keeps_the_audio(tmp_path):
    source = video.sample_clip("bigbuckbunny")  # 1280x720, 25 fps, with audio
    output = tmp_path / "small.mp4"
    run = subprocess.run([sys.executable, "-m", "run_scripts.transcode", f"--input={source}", f"--output={output}",
                          "--size=96x72", "--aspect=4:3", "--start=1", "--end=3"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"wrote {output}: 96x72, 50 frames at 25 fps, with audio" in run.stdout
    info = video.probe(output)
    assert (info.width, info.height, info.frame_count, info.fps) == (96, 72, 50, 25)
    assert info.has_audio and abs(info.duration - 2.0) < 0.1
    # Frame 0 of the output is the source's frame at 1 s, centre-cropped to 4:3 (960x720) and resized.
    first = next(iter(video.read_frames(output)))
    expected = next(iter(video.read_frames(source, start=1.0, aspect="4:3", size=(96, 72))))
    assert np.abs(first.astype(int) - expected.astype(int)).mean() < 6  # H.264 at CRF 18
    assert first.std() > 5
