"""Neural Dream Videos' plain VAE: the vae_mlp preset, loss.adversarial=False, and the seed pipeline end to end."""

import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests import synthetic
from videocore import errors
from videocore import loop
from videocore import video
from vaegan_video import configs
from vaegan_video import losses
from vaegan_video import models
from vaegan_video import train
from vaegan_video.latent_dream import configs as latent_configs
from vaegan_video.latent_dream import dream
from vaegan_video.latent_dream import latents
from vaegan_video.latent_dream import train as latent_train


@pytest.fixture(autouse=True)
def float32_policy():
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    yield
    keras.mixed_precision.set_global_policy(previous)


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    return synthetic.write_video(tmp_path_factory.mktemp("film") / "film.mp4", num_frames=24, width=64, height=36,
                                 fps=25)


def _setup(batch=4):
    return loop.Setup(strategy=tf.distribute.get_strategy(), policy="float32", global_batch=batch, num_replicas=1,
                      is_chief=True, workdir=pathlib.Path("."), seed=0)


def test_vae_mlp_preset_is_the_notebooks_autoencoder():
    config = configs.get_config("vae_mlp")
    assert (config.loss.adversarial, config.loss.similarity) == (False, "pixel")
    assert (config.optimizer.learning_rate, config.loop.batch_size, config.loop.num_epochs) == (1e-4, 50, 100)
    # model_vae.py: softplus layers; both terms summed per frame (pixels, latents), averaged over the batch.
    assert (config.model.mlp_activation, config.loss.pixel_reduction, config.loss.kl_reduction) == (
        "softplus", "sum", "sum")
    nets = models.build(config)
    encoder, decoder = nets["encoder"], nets["decoder"]
    dense = [layer for layer in encoder.layers if isinstance(layer, keras.layers.Dense)]
    assert [layer.units for layer in dense] == [256, 256, 64, 64]  # 256-256, then mu and log sigma^2
    assert dense[0].kernel.shape == (128 * 128 * 3, 256)  # 49,152 inputs
    assert [layer.units for layer in decoder.layers if isinstance(layer, keras.layers.Dense)] == [256, 256, 49152]
    assert not [layer for layer in encoder.layers + decoder.layers if isinstance(layer, keras.layers.Conv2D)]
    frames = tf.random.uniform((2, 128, 128, 3), -1, 1)
    mu, log_var = encoder(frames)
    assert mu.shape == log_var.shape == (2, 64)
    out = decoder(mu)
    assert out.shape == (2, 128, 128, 3) and float(tf.reduce_max(tf.abs(out))) <= 1.0


@pytest.mark.parametrize("similarity", ["learned", "pixel"])
def test_without_the_adversarial_term_the_decoder_follows_gamma_like_and_dis_gets_nothing(film, tmp_path,
                                                                                            similarity):
    config = configs.tiny()
    config.data.videos = (str(film),)
    config.data.cache_dir = str(tmp_path)
    config.loss.adversarial = False
    config.loss.similarity = similarity
    task = train.VaeGanTask(config, _setup(), train.load_stores(config, progress=False))
    rng = np.random.default_rng(2)
    x = tf.constant(rng.uniform(-1, 1, (4, 32, 32, 3)), tf.float32)
    eps = tf.constant(rng.normal(size=(4, 16)) * 0.25, tf.float32)
    z_prior = tf.constant(rng.normal(size=(4, 16)), tf.float32)
    with tf.GradientTape(persistent=True) as tape:
        values = task.objectives(x, eps, z_prior)
    assert "discriminator" not in values and "gan" not in values
    enc, dec, dis = (task.networks[name] for name in train.NETWORKS)
    with tf.GradientTape(persistent=True) as reference:
        mu, log_var = enc(x, training=True)
        x_bar = dec(mu + tf.exp(0.5 * log_var) * eps, training=True)
        if similarity == "pixel":
            like = losses.pixel_mse(x, x_bar)
        else:
            like = losses.learned_similarity(dis(x, training=True)[:-1], dis(x_bar, training=True)[:-1])
        kl = losses.kl_divergence(mu, log_var)
        own = {"encoder": kl + like, "decoder": config.loss.gamma * like}
    for name, objective in own.items():
        variables = task.networks[name].trainable_variables
        for got, want in zip(tape.gradient(values[name], variables), reference.gradient(objective, variables)):
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=2e-4, atol=1e-6, err_msg=name)
    # With -L_GAN in it (the adversarial default) the decoder's gradient is another one.
    config.loss.adversarial = True
    adversarial = train.VaeGanTask(config, _setup(), task.stores)
    adversarial.networks = task.networks
    with tf.GradientTape() as tape_gan:
        with_gan = adversarial.objectives(x, eps, z_prior)["decoder"]
    got = tape_gan.gradient(with_gan, dec.trainable_variables)[0]
    assert not np.allclose(got.numpy(), reference.gradient(own["decoder"], dec.trainable_variables)[0].numpy(),
                           rtol=1e-3)


def test_the_seed_vae_objective_sums_each_frames_error_and_kl(film, tmp_path):
    config = configs.vae_mlp_tiny()
    config.data.videos = (str(film),)
    config.data.cache_dir = str(tmp_path)
    task = train.VaeGanTask(config, _setup(), train.load_stores(config, progress=False))
    rng = np.random.default_rng(3)
    x = tf.constant(rng.uniform(-1, 1, (4, 32, 32, 3)), tf.float32)
    eps = tf.constant(rng.normal(size=(4, 8)), tf.float32)
    values = task.objectives(x, eps, tf.zeros((4, 8)), training=False)
    mu, log_var = (t.numpy() for t in task.networks["encoder"](x, training=False))
    x_bar = task.networks["decoder"](mu + np.exp(0.5 * log_var) * eps.numpy(), training=False).numpy()
    like = np.square(x.numpy() - x_bar).reshape(4, -1).sum(axis=1).mean()  # over 32 * 32 * 3 values
    kl = (-0.5 * (1 + log_var - mu ** 2 - np.exp(log_var))).sum(axis=1).mean()  # over the 8 latents
    assert values["like"].numpy() == pytest.approx(like, rel=1e-4) and like > 100  # a sum, not a mean
    assert values["kl"].numpy() == pytest.approx(kl, rel=1e-4)
    assert values["encoder"].numpy() == pytest.approx(kl + like, rel=1e-4)
    config.loss.pixel_reduction = "median"
    with pytest.raises(errors.ConfigError, match="pixel_reduction"):
        train.VaeGanTask(config, _setup(), task.stores)


def test_training_without_the_adversarial_term_leaves_the_discriminator_alone(film, tmp_path):
    config = configs.vae_mlp_tiny()
    config.data.videos = (str(film),)
    config.data.cache_dir = str(tmp_path / "cache")
    config.loop.num_epochs, config.loop.num_steps = 0, 3
    config.loop.precision = "float32"
    before = {}

    def make_task(setup):
        task = train.VaeGanTask(config, setup, train.load_stores(config, progress=False))
        before.update({name: [w.numpy().copy() for w in net.weights] for name, net in task.networks.items()})
        return task

    result = loop.train(make_task, config, tmp_path / "work")
    assert set(result.losses) == {"kl", "like"} and all(np.isfinite(v) for v in result.losses.values())
    for name, network in result.task.networks.items():
        changed = [not np.array_equal(a, w.numpy()) for a, w in zip(before[name], network.weights)]
        assert (not any(changed)) if name == "discriminator" else all(changed), name


@pytest.mark.slow  # the seed pipeline on a bundled clip: ~40 s
def test_the_seed_pipeline_vae_then_lstm_then_dream_runs_end_to_end(tmp_path):
    source = video.sample_clip("carphone")  # 176x144, 120 frames
    vae = configs.vae_mlp_tiny()
    vae.data.videos = (str(source),)
    vae.data.cache_dir = str(tmp_path / "cache")
    vae.loop.precision = "float32"
    vae.loop.num_epochs = 2
    train.train_and_evaluate(vae, tmp_path / "vae", progress=False)
    codec = latents.Codec(tmp_path / "vae", "float32")
    assert (codec.size, codec.latent_dim) == ((32, 32), 8)

    sequence = latent_configs.juliani()
    sequence.vaegan_workdir = str(tmp_path / "vae")
    sequence.data.videos = (str(source),)
    sequence.model.units = 16
    sequence.train.window = 10
    sequence.loop.num_epochs = 3
    sequence.loop.log_every_steps = 1
    sequence.loop.sample_every_steps = 0
    sequence.loop.guard.min_history = 1000
    sequence.data.encode_precision = "float32"
    result = latent_train.train_and_evaluate(sequence, tmp_path / "sequence", progress=False)
    assert result.step == 3 * result.task.steps_per_epoch and np.isfinite(result.losses["loss"])
    assert result.task.schedules["learning_rate"] == pytest.approx([2e-2, 2e-2 * 0.97, 2e-2 * 0.97 ** 2])
    assert {"mse", "mse_copy_last", "ratio"} <= set(result.evaluation)

    info = dream.dream_video(tmp_path / "sequence", tmp_path / "dream.mp4", num_frames=60, reseed_every=25,
                             decode_precision="float32", progress=False)
    assert (info.frame_count, info.width, info.height) == (60, 32, 32)
    frames = video.read_all(tmp_path / "dream.mp4")
    assert frames.std() > 1
