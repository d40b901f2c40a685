"""The `released_code` preset against the released code's formulas recomputed in plain numpy."""

import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests import synthetic
from videocore import loop
from vaegan_video import configs
from vaegan_video import train

BATCH = 4


def tiny_released(film, cache):
    """The released code's every option at a size that runs in a second."""
    config = configs.released_code()
    config.model.height, config.model.width = 32, 32
    config.model.filters = (8, 16, 16, 32)
    config.model.latent_dim = 16
    config.loop.batch_size = BATCH
    config.loop.precision = "float32"
    config.num_samples = 4
    config.data.videos = (str(film),)
    config.data.cache_dir = str(cache)
    return config


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    return synthetic.write_video(tmp_path_factory.mktemp("film") / "film.mp4", num_frames=12, width=64, height=36)


def make_task(config):
    keras.mixed_precision.set_global_policy("float32")
    setup = loop.Setup(strategy=tf.distribute.get_strategy(), policy="float32", global_batch=BATCH, num_replicas=1,
                       is_chief=True, workdir=pathlib.Path("."), seed=0)
    return train.VaeGanTask(config, setup, train.load_stores(config, progress=False))


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def numpy_losses(task, x, eps, z_prior):
    """Every loss of one batch from the issue's list of the released code's formulas, in numpy.

    Only the conv stacks run in TensorFlow (as flattened activations); the heads (mu, log
    sigma^2, Dis's sigmoid) and every loss are numpy.
    """
    enc, dec, dis = (task.networks[n] for n in train.NETWORKS)
    gamma = task.config.loss.gamma

    def dense(network, layer_name, h):
        kernel, bias = (w.numpy().astype(np.float64) for w in network.get_layer(layer_name).weights)
        return h @ kernel + bias

    enc_flat = keras.Model(enc.input, enc.get_layer("enc_flatten").output)(x, training=True).numpy().astype(np.float64)
    mu = np.tanh(dense(enc, "enc_mu", enc_flat))
    log_var = 0.5 * np.tanh(dense(enc, "enc_log_var", enc_flat))  # log sigma^2 = 0.5 tanh(fc)
    z = mu + np.sqrt(np.exp(log_var)) * eps
    x_bar = dec(z.astype(np.float32), training=True).numpy()
    x_p = dec(z_prior, training=True).numpy()
    probe = keras.Model(dis.input, dis.outputs[:-1] + [dis.get_layer("dis_flatten").output])

    def run_dis(frames):  # a separate batch each time (batch statistics of that batch)
        *features, flat = probe(frames, training=True)
        return [f.numpy().astype(np.float64) for f in features], _sigmoid(dense(dis, "dis_logit", flat.numpy()))

    f_real, d_real = run_dis(x)
    f_bar, d_bar = run_dis(x_bar)
    _, d_p = run_dis(x_p)

    def c(v):
        return np.clip(v, -5, 5)

    kl = -0.5 * np.mean(np.mean(1 + c(log_var) - c(mu) ** 2 - np.exp(c(log_var)), axis=1))
    batch = len(x)
    real = np.mean(-np.log(np.clip(d_real, 1e-10, 1) + 1e-12)) / batch
    fake = np.mean(-np.log(1 - np.clip(d_bar, 1e-10, 1) + 1e-12)) / batch
    prior = np.mean(-np.log(1 - np.clip(d_p, 1e-10, 1) + 1e-12)) / batch
    gan = (real + fake + prior) / 6
    like = np.mean([np.mean((a - b) ** 2) for a, b in zip(f_real, f_bar)])
    return {
        "kl": kl, "like": like, "gan": gan,
        "encoder": np.clip(kl + like, 1e-10, 100), "decoder": np.clip(gamma * like - gan, -100, 100),
        "discriminator": np.clip(gan, 1e-10, 100),
        "dis_real": d_real.mean(), "dis_fake": d_bar.mean(), "dis_prior": d_p.mean(),
    }


def loss_table(config):
    """{loss name: (package value, numpy value)} for one batch of real frames."""
    task = make_task(config)
    rng = np.random.default_rng(3)
    x = task._sample_frames.astype(np.float32) / 127.5 - 1.0
    eps = (rng.normal(size=(BATCH, 16)) * 0.25).astype(np.float32)
    z_prior = rng.uniform(-1, 1, (BATCH, 16)).astype(np.float32)
    package = {k: float(v) for k, v in task.objectives(tf.constant(x), tf.constant(eps), tf.constant(z_prior)).items()}
    expected = numpy_losses(task, x, eps, z_prior)
    return {name: (package[name], float(expected[name])) for name in expected}


def test_every_loss_matches_the_released_formulas_in_numpy(film, tmp_path):
    table = loss_table(tiny_released(film, tmp_path))
    assert set(table) == {"kl", "like", "gan", "encoder", "decoder", "discriminator", "dis_real", "dis_fake",
                          "dis_prior"}
    for name, (got, want) in table.items():
        assert got == pytest.approx(want, rel=2e-5, abs=1e-9), (name, got, want)
    # The released L_GAN is tiny (divided by the batch size and by 6): ~ 3 log 2 / (4 * 6) here.
    assert 0.02 < table["gan"][0] < 0.2


def test_released_options_differ_from_the_dissertation_as_listed():
    text, code = configs.dissertation(), configs.released_code()
    differences = {f"{block}.{key}" for block in ("model", "loss", "optimizer", "data") for key in code[block]
                   if code[block][key] != text[block][key]}
    if code.noise_range != text.noise_range:
        differences.add("noise_range")
    assert differences == {"model.leaky_relu_slope", "model.first_layer_batchnorm", "model.log_var_scale",
                           "model.init", "model.batchnorm_statistics", "loss.gan_from_logits",
                           "loss.gan_reduction", "loss.kl_clip", "loss.prior", "noise_range"}
    assert not code.optimizer.reproduce_swapped_updates
    assert code.loss.objective_clip and text.loss.objective_clip
    assert configs.get_config("released_code").loss.prior == "uniform"
