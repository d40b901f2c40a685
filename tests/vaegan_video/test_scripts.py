"""The user's path through the VAE-GAN scripts, each a real subprocess: train, reconstruct, figures, export, and
the latent dream's train and export; each output is opened and checked, not only the exit code."""
import pathlib
import subprocess
import sys

import numpy as np
import PIL.Image
import pytest
import tensorflow as tf

from tests import synthetic
from videocore import video

ROOT = pathlib.Path(__file__).resolve().parents[2]
FRAMES, FPS = 24, 25

# Training and five more processes: about a minute and a half on the 2-core machine.
pytestmark = pytest.mark.slow


def _run(script, *args):
    result = subprocess.run([sys.executable, "-m", f"run_scripts.{script}", *map(str, args)], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{script}: {result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A film with a soundtrack and the tiny VAE-GAN trained on it by `run_scripts.vaegan_train`."""
    root = tmp_path_factory.mktemp("vaegan_scripts")
    film = synthetic.write_video(root / "film.mp4", num_frames=FRAMES, width=64, height=36, fps=FPS,
                                 audio_seconds=FRAMES / FPS)
    _run("vaegan_train", "--config=vaegan_video/configs.py:tiny", f"--workdir={root / 'work'}", f"--video={film}",
         f"--config.data.cache_dir={root / 'cache'}", "--config.loop.precision=float32")
    assert sorted(p.name for p in (root / "work" / "checkpoints").glob("ckpt-*.index"))
    return root, film


def test_reconstruct_script_keeps_every_frame_the_rate_and_the_audio(run, tmp_path):
    root, film = run
    output = tmp_path / "film_vaegan.mp4"
    result = _run("vaegan_reconstruct", f"--workdir={root / 'work'}", f"--video={film}", f"--output={output}")
    assert str(output) in result.stdout + result.stderr
    info = video.probe(output)
    assert (info.frame_count, info.fps, info.width, info.height) == (FRAMES, FPS, 32, 32)
    assert info.has_audio and abs(info.duration - FRAMES / FPS) < 0.1
    frames = np.stack(list(video.read_frames(output)))
    assert frames.shape == (FRAMES, 32, 32, 3) and frames.std() > 1  # pictures, not a blank film


def test_figures_script_writes_film_above_reconstruction(run, tmp_path):
    root, film = run
    output = tmp_path / "collapse.png"
    _run("vaegan_figures", f"--workdir={root / 'work'}", f"--video={film}", f"--output={output}", "--every=5",
         "--count=4")
    with PIL.Image.open(output) as image:
        width, height = image.size
        pixels = np.asarray(image.convert("RGB"))
    # Four 32x32 frames side by side, two rows (film, reconstruction), whatever the borders.
    assert 4 * 32 <= width < 4 * 32 + 40 and 2 * 32 <= height < 2 * 32 + 40
    top, bottom = pixels[: height // 2], pixels[height // 2:]
    assert top.std() > 1 and bottom.std() > 1


def test_export_script_writes_saved_models_that_serve_uint8(run, tmp_path):
    root, _ = run
    _run("vaegan_export", f"--workdir={root / 'work'}", f"--export_dir={tmp_path / 'export'}")
    frames = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    # This process never built the model: the SavedModels load on their own.
    encoder = tf.saved_model.load(str(tmp_path / "export" / "encoder")).signatures["serving_default"]
    decoder = tf.saved_model.load(str(tmp_path / "export" / "decoder")).signatures["serving_default"]
    auto = tf.saved_model.load(str(tmp_path / "export" / "autoencoder")).signatures["serving_default"]
    latents = encoder(frames=tf.constant(frames))["latents"]
    assert latents.dtype == tf.float32 and latents.shape == (3, 16)
    decoded = decoder(latents=latents)["frames"]
    reconstructed = auto(frames=tf.constant(frames))["frames"]
    assert decoded.dtype == reconstructed.dtype == tf.uint8 and reconstructed.shape == frames.shape
    np.testing.assert_array_equal(decoded.numpy(), reconstructed.numpy())  # z = mu both ways


def test_latent_dream_train_and_export_scripts(run, tmp_path):
    root, film = run
    _run("latent_dream_train", "--config=vaegan_video/latent_dream/configs.py:tiny", f"--workdir={tmp_path / 'seq'}",
         f"--vaegan_workdir={root / 'work'}", f"--video={film}")
    assert list((tmp_path / "seq" / "checkpoints").glob("ckpt-*.index"))
    _run("latent_dream_export", f"--workdir={tmp_path / 'seq'}", f"--export_dir={tmp_path / 'export'}")
    sequence = tf.saved_model.load(str(tmp_path / "export" / "sequence")).signatures["serving_default"]
    walk = np.tanh(np.cumsum(np.random.default_rng(1).normal(size=(1, 6, 16)) * 0.1, axis=1)).astype(np.float32)
    predicted = sequence(latents=tf.constant(walk))["latents"].numpy()
    assert predicted.shape == (1, 6, 16) and np.all(np.isfinite(predicted))
    decoder = tf.saved_model.load(str(tmp_path / "export" / "vaegan" / "decoder")).signatures["serving_default"]
    frames = decoder(latents=tf.constant(predicted[0]))["frames"]
    assert frames.dtype == tf.uint8 and frames.shape == (6, 32, 32, 3)
