"""`make demo`'s main at a tiny budget, as a subprocess: every stage runs and every output it lists is a real file."""
import pathlib
import re
import subprocess
import sys

import numpy as np
import PIL.Image
import pytest

from videocore import video

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_demo_at_a_tiny_budget_writes_every_output(tmp_path):
    run = subprocess.run([sys.executable, "-m", "run_scripts.demo", f"--workdir={tmp_path}", "--budget=tiny"],
                         cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0, run.stderr[-3000:]
    listed = [line.strip().rsplit(" (", 1)[0] for line in run.stdout.split("demo outputs:\n", 1)[1].splitlines()
              if line.startswith("  ")]
    outputs = {pathlib.Path(p).name: pathlib.Path(p) for p in listed}
    times = re.search(r"^demo stage times: video \d+ s, deepdream \d+ s, vaegan \d+ s, dream \d+ s, relive \d+ s; "
                      r"total (\d+):(\d\d)$", run.stdout, re.M)
    assert times and int(times[2]) < 60
    assert all(path.is_file() and path.stat().st_size > 0 for path in outputs.values()), listed
    source = video.probe(video.sample_clip("bigbuckbunny"))

    transcoded = video.probe(outputs["bigbuckbunny_256x144.mp4"])
    assert (transcoded.width, transcoded.height, transcoded.frame_count, transcoded.fps) == (
        256, 144, source.frame_count, source.fps)
    assert transcoded.has_audio

    dreamed = video.probe(outputs["bigbuckbunny_deepdream_flow.mp4"])
    assert dreamed.frame_count == 10 and dreamed.fps == source.fps and dreamed.has_audio  # 0.4 s at 25 fps

    reconstructed = video.probe(outputs["bigbuckbunny_vaegan.mp4"])
    assert (reconstructed.frame_count, reconstructed.fps) == (source.frame_count, source.fps)
    assert reconstructed.has_audio
    side = video.probe(outputs["bigbuckbunny_vaegan_side_by_side.mp4"])
    assert side.width == 2 * reconstructed.width

    latent = video.probe(outputs["dream.mp4"])
    assert latent.frame_count == 2 * round(float(source.fps))  # two seconds of dream at the source's rate

    grids = [path for name, path in outputs.items() if name.endswith(".gif")]
    assert grids
    assert {"relive_photo.gif", "relive_photo.mp4", "relive_photo_source.jpg"} <= set(outputs)  # a photo relived
    for gif in grids:
        with PIL.Image.open(gif) as image:
            assert image.n_frames == 16  # configs.demo() clips: 16 frames
    with PIL.Image.open(outputs["dream_stills.png"]) as image:
        assert np.asarray(image).std() > 0


def test_the_closing_summary_names_each_stage_the_total_and_each_file(tmp_path):
    from run_scripts import demo

    written = tmp_path / "a.mp4"
    written.write_bytes(b"x" * 1_500_000)
    text = demo.summary({"video": 1.2, "relive": 74.4}, [written, tmp_path / "gone.png"])
    assert text.splitlines() == ["demo stage times: video 1 s, relive 74 s; total 1:15", "demo outputs:",
                                 f"  {written} (1.5 MB)", f"  {tmp_path / 'gone.png'} (missing)"]
