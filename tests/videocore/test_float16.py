"""mixed_float16 on this CPU, every method at a tiny size: finite losses, the loss scale checkpointed and restored, exports.

The GPU path trains under `mixed_float16` with Keras' LossScaleOptimizer (videocore.precision); here
it runs on the CPU's float16 kernels, which TensorFlow has for every op these models use (matmul,
2D / 3D convolutions and their gradients, the fused batch norm, LSTM). The resume checks restart
with LossScaleOptimizers whose initial scale is 7: only a restored checkpoint gives back the saved
scale.
"""
import fractions

import keras
import numpy as np
import pytest
import skimage.data
import tensorflow as tf

from deepdream_video import dream
from deepdream_video import models as deepdream_models
from deepdream_video import modes
from relive import export as relive_export
from relive import train as relive_train
from tests import synthetic
from tests.relive import conftest as relive_fixtures
from vaegan_video import configs as vaegan_configs
from vaegan_video import export as vaegan_export
from vaegan_video import train as vaegan_train
from vaegan_video.latent_dream import configs as latent_configs
from vaegan_video.latent_dream import export as latent_export
from vaegan_video.latent_dream import latents
from vaegan_video.latent_dream import train as latent_train
from videocore import loop
from videocore import precision

FLOAT16 = "mixed_float16"
UNRESTORED_SCALE = 7.0


@pytest.fixture(autouse=True)
def keep_global_policy():
    previous = keras.mixed_precision.global_policy()
    yield
    keras.mixed_precision.set_global_policy(previous)


def _saved_scales(checkpoint_path):
    """{optimizer name: loss scale} as written in the checkpoint file (read without any model)."""
    reader = tf.train.load_checkpoint(str(checkpoint_path))
    return {name.split("/")[1]: float(reader.get_tensor(name)) for name, _ in tf.train.list_variables(str(checkpoint_path))
            if name.startswith("optimizers/") and "/dynamic_scale/" in name}


def _check_finite_and_scaled(result, steps, optimizer_names):
    assert result.step == steps
    assert result.losses and all(np.isfinite(value) for value in result.losses.values()), result.losses
    for name in optimizer_names:
        assert isinstance(result.task.optimizers[name], keras.optimizers.LossScaleOptimizer), name
    saved = _saved_scales(result.checkpoint)
    assert set(saved) == set(optimizer_names)
    # 2**15 to start, halved at each overflow: a power of two, and not collapsed to nothing.
    assert all(2.0 ** 5 <= value <= 2.0 ** 16 and np.log2(value) == int(np.log2(value)) for value in saved.values())
    return saved


def _resume_and_check_scales(monkeypatch, run, saved):
    """Runs `run()` again on the finished workdir with a different initial scale; the saved scales must come back."""
    def wrap(optimizer, policy):
        assert precision.needs_loss_scaling(policy)
        return keras.optimizers.LossScaleOptimizer(optimizer, initial_scale=UNRESTORED_SCALE)

    monkeypatch.setattr(precision, "wrap_optimizer", wrap)
    resumed = run()
    restored = {name: float(resumed.task.optimizers[name].dynamic_scale) for name in saved}
    assert restored == saved
    return resumed


def _check_export_signature(path, inputs, outputs):
    """The SavedModel's serving_default takes and returns exactly these dtypes ({name: tf dtype})."""
    function = tf.saved_model.load(str(path)).signatures["serving_default"]
    assert {name: spec.dtype for name, spec in function.structured_input_signature[1].items()} == inputs
    assert {name: spec.dtype for name, spec in function.structured_outputs.items()} == outputs
    return function


# ----------------------------------------------------------------------------- VAE-GAN


@pytest.mark.slow
def test_vaegan_trains_in_float16_restores_the_scale_and_exports_uint8(tmp_path, monkeypatch):
    film = synthetic.write_video(tmp_path / "film.mp4", num_frames=12, width=64, height=36, fps=25)
    config = vaegan_configs.tiny()
    config.data.videos = (str(film),)
    config.data.cache_dir = str(tmp_path / "cache")
    config.loop.precision = FLOAT16
    config.loop.num_epochs, config.loop.num_steps = 0, 3
    config.loop.sample_every_steps = 0

    def run():
        return vaegan_train.train_and_evaluate(config, tmp_path / "work", progress=False)

    first = run()
    saved = _check_finite_and_scaled(first, 3, ("encoder", "decoder", "discriminator"))
    assert first.task.compute_dtype == "float16"
    _resume_and_check_scales(monkeypatch, run, saved)

    paths = vaegan_export.export_models(config, tmp_path / "work", tmp_path / "export")
    auto = _check_export_signature(paths["autoencoder"], {"frames": tf.uint8}, {"frames": tf.uint8})
    _check_export_signature(paths["encoder"], {"frames": tf.uint8}, {"latents": tf.float32})
    _check_export_signature(paths["decoder"], {"latents": tf.float32}, {"frames": tf.uint8})
    frames = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    out = auto(frames=tf.constant(frames))["frames"].numpy()
    assert out.shape == frames.shape and out.std() > 0  # a picture, not a constant (NaNs would quantise to one)


# ----------------------------------------------------------------------------- latent dream sequence model


def _latent_config():
    config = latent_configs.tiny()
    config.loop.precision = FLOAT16
    config.loop.num_steps = 3
    config.loop.batch_size = 2
    config.train.window = 5
    config.data.shift_windows = False
    config.data.z_noise = 0.0
    return config


def test_latent_sequence_model_trains_in_float16_and_exports_float32(tmp_path, monkeypatch):
    config = _latent_config()
    walk = np.tanh(np.cumsum(np.random.default_rng(4).normal(size=(60, 3)) * 0.1, axis=0)).astype(np.float32)
    streams = [latents.LatentSequence(mu=walk, log_var=np.full_like(walk, -2.0), fps=fractions.Fraction(25),
                                       source="walk")]

    def run():
        return loop.train(lambda setup: latent_train.SequenceTask(config, setup, streams, 0.0), config,
                          tmp_path / "work")

    first = run()
    (name,) = first.task.optimizers
    saved = _check_finite_and_scaled(first, 3, (name,))
    assert first.task.model.compute_dtype == "float16"
    resumed = _resume_and_check_scales(monkeypatch, run, saved)

    path = tmp_path / "sequence"
    latent_export.export_sequence_model(resumed.task.model, path)
    predict = _check_export_signature(path, {"latents": tf.float32}, {"latents": tf.float32})
    prediction = predict(latents=tf.constant(walk[None, :10]))["latents"].numpy()
    assert prediction.shape == (1, 10, 3) and np.all(np.isfinite(prediction))


# ----------------------------------------------------------------------------- relive


@pytest.mark.parametrize("model", [
    pytest.param("wgan", marks=pytest.mark.slow),  # each ~40 s here: two runs, an export
    pytest.param("conditional", marks=pytest.mark.slow),
    pytest.param("predictor", marks=pytest.mark.slow),
])
def test_relive_models_train_in_float16_restore_the_scale_and_export_uint8(model, tmp_path, monkeypatch):
    config = relive_fixtures.tiny_config(tmp_path / "frames", model, "gradient", precision=FLOAT16, num_steps=2,
                                         checkpoint_every_steps=2, sample_every_steps=0, histogram_every_steps=0)

    def run():
        outcome = relive_train.train_and_evaluate(config, tmp_path / "work")
        return getattr(outcome, "result", outcome)  # the loop's Result, whether or not it is wrapped

    first = run()
    names = ("predictor",) if model == "predictor" else ("critic", "generator")
    saved = _check_finite_and_scaled(first, 2, names)
    if model != "predictor":
        assert first.losses["gradient_penalty"] >= 0
    _resume_and_check_scales(monkeypatch, run, saved)

    path = relive_export.export_trained(config, tmp_path / "work", tmp_path / "export")
    size, frames = config.clip.frame_size, config.clip.num_frames
    if model == "wgan":
        serve = _check_export_signature(path, {"noise": tf.float32}, {"clips": tf.uint8})
        out = serve(noise=tf.random.stateless_normal((2, config.generator.noise_dim), (1, 2)))["clips"]
        assert out.shape == (2, frames, size, size, 3)
    elif model == "conditional":
        serve = _check_export_signature(path, {"photos": tf.uint8, "noise": tf.float32}, {"clips": tf.uint8})
        photos = tf.constant(np.random.default_rng(0).integers(0, 256, (2, size, size, 3), dtype=np.uint8))
        out = serve(photos=photos, noise=tf.zeros((2, config.generator.noise_dim)))["clips"]
        assert out.shape == (2, frames, size, size, 3)
    else:
        serve = _check_export_signature(path, {"photos": tf.uint8}, {"frames": tf.uint8})
        photos = tf.constant(np.random.default_rng(0).integers(0, 256, (2, size, size, 3), dtype=np.uint8))
        out = serve(photos=photos)["frames"]
        assert out.shape == (2, config.sample.rollout_frames, size, size, 3)
    assert np.asarray(out).std() > 0


# ----------------------------------------------------------------------------- DeepDream


@pytest.mark.slow  # InceptionV3 traced for two dtypes: ~35 s here
def test_deepdream_step_in_float16_follows_the_float32_ascent(inception):
    """DeepDream has no optimizer: its normalised gradient step needs no loss scaling, only float16 kernels."""
    cat = tf.image.resize(modes.to_float(skimage.data.chelsea()), (96, 96), antialias=True).numpy()
    dreamers = {dtype: dream.Dreamer(inception, ["mixed3"], compute_dtype=dtype) for dtype in ("float32", "float16")}
    changes, objectives = {}, {}
    for dtype, dreamer in dreamers.items():
        dreamed, objective = dreamer.dream(cat, np.zeros((1, 4, 2), np.int32), 0.02)
        assert dreamed.dtype == tf.float32 and np.all(np.isfinite(dreamed.numpy()))
        objectives[dtype] = objective.numpy()[0]
        one_step, _ = dreamer.dream(cat, np.zeros((1, 1, 2), np.int32), 0.02)
        changes[dtype] = (one_step.numpy() - cat).ravel()
    assert np.all(np.diff(objectives["float16"]) > 0), objectives["float16"]
    np.testing.assert_allclose(objectives["float16"], objectives["float32"], rtol=0.05)
    # One step goes the float32 way (over several steps float16 rounding makes the paths drift apart slowly).
    cosine = changes["float16"] @ changes["float32"] / np.linalg.norm(changes["float16"]) / np.linalg.norm(
        changes["float32"])
    assert cosine > 0.95, cosine


@pytest.fixture(scope="module")
def inception():
    return deepdream_models.inception_v3("auto")
