"""One picture: the zoom step's geometry, the feedback-zoom video, and the deepdream_image script."""
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from deepdream_video import configs
from deepdream_video import image
from deepdream_video import video as dream_video_lib
from videocore import errors
from videocore import video


def test_zoom_step_enlarges_and_turns_about_the_centre():
    picture = np.zeros((41, 61, 3), np.float32)
    picture[20, 30] = 1.0  # the centre
    picture[20, 40] = 0.5  # 10 px right of it
    zoomed = image.zoom_step(picture, 2.0)
    assert zoomed.shape == picture.shape and zoomed[20, 30, 0] == pytest.approx(1.0)
    assert zoomed[20, 50, 0] == pytest.approx(0.5) and zoomed[20, 40, 0] == pytest.approx(0.0)
    turned = image.zoom_step(picture, 1.0, rotate=90)  # anticlockwise: right of centre -> above it
    assert turned[10, 30, 0] == pytest.approx(0.5) and turned[20, 40, 0] == pytest.approx(0.0)


def test_zoom_mode_makes_a_video_of_the_asked_length(tmp_path):
    config = configs.tiny()
    config.mode, config.frames, config.zoom, config.zoom_rotate = "zoom", 4, 1.2, 3.0
    result = dream_video_lib.dream_video(config, video.sample_clip("carphone"), tmp_path / "zoom.mp4", progress=False)
    info = video.probe(tmp_path / "zoom.mp4")
    assert result.frames == info.frame_count == 4 and info.fps == 25 and (info.width, info.height) == (96, 64)
    frames = video.read_all(tmp_path / "zoom.mp4").astype(np.float32)
    # Each frame is the previous one zoomed and dreamed again: closer to the zoomed previous frame
    # than to the unzoomed one.
    zoomed = image.zoom_step(frames[2], 1.2, 3.0)
    assert np.abs(frames[3] - zoomed).mean() < 0.8 * np.abs(frames[3] - frames[2]).mean()
    with pytest.raises(errors.ConfigError, match="frames >= 1"):
        config.frames = 0
        dream_video_lib.dream_video(config, video.sample_clip("carphone"), tmp_path / "none.mp4", progress=False)


@pytest.mark.slow  # two script runs with real InceptionV3 weights: ~45 s here
def test_image_script_writes_a_dreamed_still_and_names_bad_input(tmp_path):
    picture = video.read_all(video.sample_clip("carphone"), end=0.05)[0]  # (144, 176, 3)
    source = tmp_path / "photo.png"
    Image.fromarray(picture).save(source)
    output = tmp_path / "dream.jpg"
    command = [sys.executable, "-m", "run_scripts.deepdream_image", f"--input={source}", f"--output={output}",
               "--dream_layers=mixed2", "--num_iterations=2", "--learning_rate=0.1"]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    dreamed = np.asarray(Image.open(output)).astype(np.float32)
    assert dreamed.shape == picture.shape and np.abs(dreamed - picture).mean() > 5
    completed = subprocess.run(command[:4] + [f"--output={tmp_path / 'x.jpg'}", "--dream_layers=pool5"],
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 1
    assert completed.stderr.strip().splitlines()[-1].startswith("error: unknown dream layer 'pool5'")
