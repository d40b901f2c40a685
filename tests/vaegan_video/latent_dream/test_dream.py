"""Dreaming end to end on a tiny VAE-GAN: latents cache, training run, roll-out, streamed video, export."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests import synthetic
from videocore import errors
from videocore import video
from vaegan_video import configs
from vaegan_video.latent_dream import dream
from vaegan_video.latent_dream import latents
from vaegan_video.latent_dream import models as latent_models
from vaegan_video.latent_dream import configs as latent_configs
from vaegan_video.latent_dream import export as latent_export
from vaegan_video.latent_dream import train as latent_train
from vaegan_video import train


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A tiny VAE-GAN (12 steps) on a 24-frame clip, and the tiny sequence model (4 steps) over its latents."""
    root = tmp_path_factory.mktemp("dream")
    film = synthetic.write_video(root / "film.mp4", num_frames=24, width=64, height=36, fps=25)
    vaegan = configs.tiny()
    vaegan.data.videos = (str(film),)
    vaegan.data.cache_dir = str(root / "cache")
    vaegan.loop.precision = "float32"
    vaegan.loop.sample_every_steps = 0
    train.train_and_evaluate(vaegan, root / "vaegan", progress=False)
    config = latent_configs.tiny()
    config.vaegan_workdir = str(root / "vaegan")
    config.data.videos = (str(film),)
    config.data.holdout_fraction = 0.25
    config.data.z_noise = None  # z re-drawn with the VAE-GAN's last noise sigma
    config.loop.sample_every_steps = 4
    result = latent_train.train_and_evaluate(config, root / "sequence", progress=False)
    return {"root": root, "film": film, "vaegan": root / "vaegan", "sequence": root / "sequence",
            "config": config, "result": result}


def test_latents_are_cached_per_checkpoint_and_video(runs, monkeypatch):
    codec = latents.Codec(runs["vaegan"], "float32")
    stream = latents.encode_video(runs["vaegan"], runs["film"], codec=codec, progress=False)
    assert stream.mu.shape == stream.log_var.shape == (24, 16)
    assert np.abs(stream.mu).max() <= 1 and stream.fps == 25
    assert stream.path.parent == runs["vaegan"] / "latents" and stream.path.suffix == ".npz"
    frames = video.read_all(runs["film"], aspect=codec.aspect, size=codec.size)
    np.testing.assert_allclose(stream.mu, codec.encode(frames)[0], atol=1e-5)
    # Same checkpoint and video: read back, not encoded again.
    calls = []
    original = latents.Codec.encode
    monkeypatch.setattr(latents.Codec, "encode", lambda self, f: calls.append(len(f)) or original(self, f))
    again = latents.encode_video(runs["vaegan"], runs["film"], codec=codec, progress=False)
    assert calls == [] and again.path == stream.path
    np.testing.assert_array_equal(again.mu, stream.mu)
    # The video changed (new mtime): encoded again.
    stat = os.stat(runs["film"])
    os.utime(runs["film"], ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    latents.encode_video(runs["vaegan"], runs["film"], codec=codec, progress=False)
    assert sum(calls) == 24
    short = latents.encode_video(runs["vaegan"], runs["film"], codec=codec, end=0.4, progress=False)
    assert len(short) == 10 and short.path != stream.path


def test_training_run_writes_config_checkpoint_summaries_and_heldout_figures(runs):
    workdir, result = runs["sequence"], runs["result"]
    assert result.step == 4 and all(np.isfinite(v) for v in result.losses.values())
    assert set(result.losses) == {"loss", "mse", "mse_copy_last"}
    assert tf.train.latest_checkpoint(str(workdir / "checkpoints"))
    assert list((workdir / "tensorboard").glob("events.out.tfevents.*"))
    assert sorted((workdir / "samples" / "real_over_dream").glob("*.png"))
    run = json.loads((workdir / latent_train.RUN_FILE).read_text())
    assert run["latent_dim"] == 16 and run["fps"] == "25"
    assert run["z_noise"] == pytest.approx(configs.tiny().noise_schedule[-1])  # None: the VAE-GAN's last sigma
    figures = json.loads((workdir / latent_train.EVAL_FILE).read_text())
    assert figures["frames"] == 6 and figures["mse_copy_last"] > 0 and np.isfinite(figures["nll"])


def test_dream_is_written_streamed_with_the_frames_and_rate_asked_for(runs, tmp_path):
    info = dream.dream_video(runs["sequence"], tmp_path / "dream.mp4", num_frames=21, progress=False)
    assert (info.frame_count, info.fps, info.width, info.height, info.has_audio) == (21, 25, 32, 32, False)
    seconds = dream.dream_video(runs["sequence"], tmp_path / "prior.mp4", seconds=1.2, fps=10, from_prior=True,
                                progress=False)
    assert (seconds.frame_count, seconds.fps) == (12, 10)
    frames = video.read_all(tmp_path / "dream.mp4")
    assert frames.std() > 1  # decoded pictures, not a blank


def test_rollout_yields_bounded_pieces_and_reseeds_on_schedule(runs):
    model, config, _ = latent_train.restore_model(runs["sequence"])
    dreamer = dream.Dreamer(model)
    seed_latents = np.random.default_rng(0).uniform(-1, 1, (30, 16)).astype(np.float32)
    settings = dream.DreamSettings(num_frames=1000, chunk=64, seed_frames=3)
    pieces = dream.rollout(dreamer, settings, seed_latents)
    sizes = [len(piece) for piece in pieces]  # a generator: one piece in memory at a time
    assert sum(sizes) == 1000 and max(sizes) == 64
    reseeded = dream.DreamSettings(num_frames=20, chunk=8, seed_frames=3, reseed_every=7)
    assert [len(p) for p in dream.rollout(dreamer, reseeded, seed_latents)] == [7, 7, 6]
    a, b = (np.concatenate(list(dream.rollout(dreamer, dream.DreamSettings(num_frames=12, chunk=5, seed_frames=3,
                                                                          temperature=1.0, seed=s), seed_latents)))
            for s in (0, 1))
    assert not np.allclose(a, b)
    again = np.concatenate(list(dream.rollout(dreamer, dream.DreamSettings(num_frames=12, chunk=5, seed_frames=3,
                                                                          temperature=1.0, seed=0), seed_latents)))
    np.testing.assert_array_equal(a, again)
    bounded = np.concatenate(list(dream.rollout(dreamer, dream.DreamSettings(num_frames=12, noise=5.0,
                                                                            latent_bound=0.5), seed_latents)))
    assert np.abs(bounded).max() <= 0.5


def test_compiled_rollout_at_temperature_zero_is_the_models_mode(runs):
    model, _, _ = latent_train.restore_model(runs["sequence"])
    warm = np.random.default_rng(1).uniform(-1, 1, (5, 16)).astype(np.float32)
    settings = dream.DreamSettings(num_frames=9, chunk=4, seed_frames=5, temperature=0.0, latent_bound=0.0)
    compiled = np.concatenate(list(dream.rollout(dream.Dreamer(model), settings, warm)))
    eager = latent_train.rollout_mode(model, warm, 9)
    np.testing.assert_allclose(compiled, eager, atol=1e-5)


def test_interpolations_between_frames_and_between_videos(runs, tmp_path):
    info = dream.interpolate(runs["vaegan"], f"{runs['film']}@0", f"{runs['film']}@0.6", tmp_path / "frames.mp4",
                             num_frames=6, fps=12, progress=False)
    assert (info.frame_count, info.fps) == (6, 12)
    other = synthetic.write_video(tmp_path / "other.mp4", num_frames=15, width=48, height=48, fps=15)
    both = dream.interpolate(runs["vaegan"], runs["film"], other, tmp_path / "videos.mp4", mode="slerp",
                             progress=False)
    assert (both.frame_count, both.fps) == (15, 25)  # the shorter length, the first video's rate
    with pytest.raises(errors.ConfigError, match="two frames"):
        dream.interpolate(runs["vaegan"], f"{runs['film']}@0", other, tmp_path / "x.mp4")
    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    np.testing.assert_allclose(dream.blend(a, b, 0.5, "slerp"), [np.sqrt(0.5)] * 2, atol=1e-6)  # on the arc
    np.testing.assert_allclose(dream.blend(a, b, 0.5, "linear"), [0.5, 0.5])
    np.testing.assert_allclose(dream.blend(np.stack([a, a]), np.stack([b, b]), np.array([0.0, 1.0])), [a, b])


def test_saved_model_matches_keras_in_a_fresh_process(runs, tmp_path):
    model, _, _ = latent_train.restore_model(runs["sequence"])
    path = latent_export.export_sequence_model(model, tmp_path / "sequence")
    rng = np.random.default_rng(2)
    sequences = rng.uniform(-1, 1, (2, 6, 16)).astype(np.float32)
    step_latents = rng.uniform(-1, 1, (2, 16)).astype(np.float32)
    state = rng.normal(size=(2, 2, 16)).astype(np.float32)
    np.savez(tmp_path / "inputs.npz", sequences=sequences, step_latents=step_latents, state=state)
    code = f"""
import numpy as np, tensorflow as tf
inputs = np.load({str(tmp_path / 'inputs.npz')!r})
loaded = tf.saved_model.load({str(path)!r})
predicted = loaded.signatures['serving_default'](latents=tf.constant(inputs['sequences']))['latents']
step = loaded.signatures['step'](latents=tf.constant(inputs['step_latents']), state=tf.constant(inputs['state']))
np.savez({str(tmp_path / 'outputs.npz')!r}, predicted=predicted.numpy(), **{{k: v.numpy() for k, v in step.items()}})
"""
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300, capture_output=True)
    got = np.load(tmp_path / "outputs.npz")
    outputs = model([tf.constant(sequences), *latent_models.zero_states(model, 2)])
    np.testing.assert_allclose(got["predicted"], latent_models.expected_next(outputs).numpy(), atol=1e-5)
    one = model([tf.constant(x) for x in (step_latents[:, None], state[:, 0], state[:, 1])])
    np.testing.assert_allclose(got["mean"], latent_models.expected_next(one).numpy()[:, 0], atol=1e-5)
    np.testing.assert_allclose(got["mode"], latent_models.mode_next(one).numpy()[:, 0], atol=1e-5)
    np.testing.assert_allclose(got["logits"], one["logits"].numpy()[:, 0], atol=1e-5)
    np.testing.assert_allclose(got["state"], np.stack([s.numpy() for s in one["states"]], 1), atol=1e-5)


def test_a_sequence_run_of_another_latent_size(runs, tmp_path):
    config = runs["config"]
    other = latent_configs.tiny()
    other.vaegan_workdir, other.data.videos = config.vaegan_workdir, config.data.videos
    other.model.units = 8
    with pytest.raises(errors.CheckpointError, match="model.units 16 \\(checkpoint\\) vs 8"):
        latent_train.train_and_evaluate(other, runs["sequence"], progress=False)
    with pytest.raises(errors.CheckpointError, match="an empty folder, not a latent-dream run"):
        dream.dream_video(tmp_path, tmp_path / "x.mp4", progress=False)


@pytest.mark.parametrize("script, flags, message", [
    pytest.param("latent_dream_train", ["--vaegan_workdir={tmp}/nothing", "--video={tmp}/v.mp4"],
                 "{tmp}/nothing: no such folder (give the workdir of a VAE-GAN run)", marks=pytest.mark.slow),
    ("latent_dream", ["--output={tmp}/o.mp4"], "{tmp}: an empty folder, not a latent-dream run"),
])
def test_scripts_report_bad_input_in_one_line(tmp_path, script, flags, message):
    flags = [f.format(tmp=tmp_path) for f in flags]
    result = subprocess.run([sys.executable, "-m", f"run_scripts.{script}", f"--workdir={tmp_path}", *flags],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: {message.format(tmp=tmp_path)}")
    assert "Traceback" not in result.stderr


@pytest.mark.slow  # deprecation shims, two trainings in subprocesses: ~16 s each
@pytest.mark.parametrize("old, new", [("dream_export", "latent_dream_export"), ("dream_video", "deepdream_video")])
def test_old_script_names_still_work_with_a_notice(tmp_path, old, new):
    """The renamed scripts answer under their old names for one release: a notice, then the same run."""
    flags = {"dream_export": [f"--workdir={tmp_path}", f"--export_dir={tmp_path}/export"],
             "dream_video": [f"--video={tmp_path}/missing.mp4", f"--output={tmp_path}/out.mp4"]}[old]
    results = {name: subprocess.run([sys.executable, "-m", f"run_scripts.{name}", *flags],
                                    capture_output=True, text=True, timeout=300) for name in (old, new)}
    assert results[old].returncode == results[new].returncode == 1
    old_lines = results[old].stderr.strip().splitlines()
    assert old_lines[-1] == results[new].stderr.strip().splitlines()[-1]
    assert any(f"run_scripts.{old} is deprecated" in line and f"run_scripts.{new}" in line for line in old_lines)
    assert not (tmp_path / "out.mp4").exists() and not (tmp_path / "export").exists()
