"""relive's run_scripts: config overrides reach the code, outputs are printed, bad input is one line and exit 1."""
import pathlib
import subprocess
import sys

import numpy as np
import PIL.Image
import pytest
import tensorflow as tf

from videocore import video

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _run(script, *args):
    return subprocess.run([sys.executable, "-m", f"run_scripts.{script}", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def _one_line_error(run, *fragments):
    assert run.returncode == 1
    lines = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, run.stderr[-2000:]
    assert all(fragment in lines[0] for fragment in fragments), lines[0]


def test_train_with_a_missing_source_fails_in_one_line(tmp_path):
    run = _run("relive_train", "--config=relive/configs.py:quick", f"--workdir={tmp_path / 'run'}",
               f"--config.data.source={tmp_path / 'nowhere'}")
    _one_line_error(run, "nowhere", "no such file")


def test_sample_script_writes_gif_and_mp4(trained_wgan, tmp_path):
    _, workdir, _ = trained_wgan
    run = _run("relive_sample", f"--workdir={workdir}", f"--output={tmp_path / 'grid'}", "--num_clips=2")
    assert run.returncode == 0, run.stderr[-2000:]
    assert str(tmp_path / "grid.mp4") in run.stdout
    config, frames, size = trained_wgan[0], trained_wgan[0].clip.num_frames, trained_wgan[0].clip.frame_size
    with PIL.Image.open(tmp_path / "grid.gif") as gif:
        assert gif.n_frames == frames
        assert abs(gif.info["duration"] - 1000 / config.clip.fps) <= 10  # GIF delays are whole centiseconds
        width, height = gif.size
    # Two clips tiled with 2-pixel borders: (columns, rows) cells of size + 2 pixels, at least two cells.
    columns, rows = (width - 2) // (size + 2), (height - 2) // (size + 2)
    assert (columns * (size + 2) + 2, rows * (size + 2) + 2) == (width, height) and columns * rows >= 2
    info = video.probe(tmp_path / "grid.mp4")
    assert (info.frame_count, info.fps, info.width, info.height) == (frames, config.clip.fps, width, height)
    first = next(iter(video.read_frames(tmp_path / "grid.mp4")))
    assert first.shape == (height, width, 3) and first.std() > 1  # a picture, not a blank frame


def test_photo_script_with_a_file_that_is_not_an_image(trained_predictor, tmp_path):
    _, workdir, _ = trained_predictor
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"\x89PNG but not really")
    run = _run("relive_photo", f"--photo={photo}", f"--output_dir={tmp_path}", f"--predictor_workdir={workdir}")
    _one_line_error(run, "photo.png", "not a readable image")


@pytest.mark.slow  # export + a fresh process: ~9 s; test_export's round trip is slow too, relive_sample's script test stays fast
def test_export_script_writes_a_generator_that_serves_uint8_clips(trained_wgan, tmp_path):
    config, workdir, _ = trained_wgan
    run = _run("relive_export", f"--workdir={workdir}", f"--export_dir={tmp_path / 'export'}", "--model=wgan")
    assert run.returncode == 0, run.stderr[-2000:]
    path = tmp_path / "export" / "generator"
    assert str(path) in run.stdout
    # Loaded here, where the model was never built: the SavedModel stands alone.
    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    noise = tf.random.stateless_normal((3, config.generator.noise_dim), seed=(1, 2))
    clips = serve(noise=noise)["clips"]
    size = config.clip.frame_size
    assert clips.dtype == tf.uint8 and clips.shape == (3, config.clip.num_frames, size, size, 3)
    assert np.asarray(clips).std() > 0
    # The same noise gives the same clips: the generator serves in inference mode (batch norm's moving averages).
    np.testing.assert_array_equal(serve(noise=noise)["clips"].numpy(), clips.numpy())
