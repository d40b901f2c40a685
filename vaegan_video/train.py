"""Algorithm 1: the VAE-GAN trained on every frame of a film, as a task on the shared loop."""

import json
import pathlib

import keras
import numpy as np
import tensorflow as tf

from videocore import data
from videocore import errors
from videocore import framestore
from videocore import loop
from videocore import summaries
from vaegan_video import losses
from vaegan_video import models

CONFIG_FILE = "config.json"
NETWORKS = ("encoder", "decoder", "discriminator")


def load_stores(config, progress=True):
    """The frame stores of `config.data.videos` at the model's size (decoded once, then reused)."""
    videos = config.data.videos
    if isinstance(videos, str):
        videos = [v for v in videos.split(",") if v]
    if not videos:
        raise errors.ConfigError("config.data.videos is empty: name at least one video to train on")
    return framestore.load_stores(list(videos), size=(config.model.width, config.model.height),
                                  aspect=config.data.aspect or None, start=config.data.start, end=config.data.end,
                                  cache_dir=config.data.cache_dir or None, progress=progress)


class VaeGanTask:
    """The three networks, their Adam optimizers and one step of Algorithm 1 (lines 5-16)."""

    def __init__(self, config, setup, stores):
        self.config = config
        self.stores = stores
        self.networks = models.build(config)
        opt = config.optimizer
        self.optimizers = {name: keras.optimizers.Adam(opt.learning_rate, beta_1=opt.beta_1, name=f"adam_{name}")
                           for name in NETWORKS}
        self.steps_per_epoch = data.steps_per_epoch(stores, setup.global_batch)
        self.schedules = {"noise": [float(v) for v in config.noise_schedule]}
        self.compute_dtype = keras.mixed_precision.dtype_policy().compute_dtype
        self.seed = setup.seed
        rng = np.random.Generator(np.random.PCG64(config.loop.seed))
        # Fixed frames and prior draws, so sample grids show the same things as training goes on.
        total = sum(len(s) for s in stores)
        picks = np.sort(rng.choice(total, size=min(config.num_samples, total), replace=False))
        offsets = np.cumsum([0] + [len(s) for s in stores])
        which = np.searchsorted(offsets, picks, side="right") - 1
        self._sample_frames = np.stack([stores[w].frames[p - offsets[w]] for w, p in zip(which, picks)])
        self._sample_prior = rng.standard_normal((len(picks), config.model.latent_dim)).astype(np.float32)

    def make_dataset(self, position, global_batch):
        return data.shuffled_batches(self.stores, global_batch, self.seed, position=tuple(position),
                                     dtype=self.compute_dtype)

    def objectives(self, x, eps, z_prior, training=True):
        """Forward pass of Algorithm 1 (lines 6-12) and the three networks' objectives (4.12-4.14).

        x: (B, H, W, 3) in [-1, 1]; eps: (B, latent) noise already scaled by the epoch's sigma;
        z_prior: (B, latent) ~ N(0, I). Returns float32 scalars.
        """
        enc, dec, dis = (self.networks[n] for n in NETWORKS)
        loss_config = self.config.loss
        mu, log_var = enc(x, training=training)
        z = mu + tf.exp(0.5 * log_var) * eps  # z = mu + sigma * eps (eq. 2.4)
        x_bar = dec(z, training=training)
        x_p = dec(z_prior, training=training)
        # Dis sees x, x_bar and x_p as three batches, each with its own batch statistics.
        *features_real, dis_real = dis(x, training=training)
        *features_bar, dis_bar = dis(tf.cast(x_bar, x.dtype), training=training)
        dis_p = dis(tf.cast(x_p, x.dtype), training=training)[-1]
        kl = losses.kl_divergence(mu, log_var, reduction=loss_config.kl_reduction)
        if loss_config.similarity == "pixel":
            like = losses.pixel_mse(x, x_bar)
        else:
            like = losses.learned_similarity(features_real, features_bar)
        gan = losses.gan_loss(dis_real, dis_bar, dis_p, clip_min=loss_config.gan_clip_min)
        return {
            "kl": kl, "like": like, "gan": gan,
            "encoder": losses.encoder_objective(kl, like),
            "decoder": losses.decoder_objective(like, gan, loss_config.gamma),
            "discriminator": losses.discriminator_objective(gan),
            "dis_real": tf.reduce_mean(tf.cast(dis_real, tf.float32)),
            "dis_fake": tf.reduce_mean(tf.cast(dis_bar, tf.float32)),
        }

    def draw_noise(self, batch_size, ctx):
        latent = self.config.model.latent_dim
        eps = tf.random.stateless_normal((batch_size, latent), seed=ctx.seed("eps")) * ctx.value("noise")
        z_prior = tf.random.stateless_normal((batch_size, latent), seed=ctx.seed("prior"))
        return eps, z_prior

    def train_step(self, x, ctx):
        eps, z_prior = self.draw_noise(tf.shape(x)[0], ctx)
        with tf.GradientTape(persistent=True) as tape:
            values = self.objectives(x, eps, z_prior)
        for name in NETWORKS:  # each optimizer, its own network, its own objective (4.12-4.14)
            ctx.minimize(tape, values[name], name, clip_value=self.config.optimizer.clip_value or None)
        del tape
        return {name: values[name] for name in ("kl", "like", "gan", "dis_real", "dis_fake")}

    def sample(self, step):
        """x, x_bar and x_p (Figures 5.1-5.6): one grid, a row each, with fixed frames and z_p."""
        del step
        x = data.to_float(self._sample_frames, self.compute_dtype)
        mu, _ = self.networks["encoder"](x, training=False)
        x_bar = self.networks["decoder"](mu, training=False)
        x_p = self.networks["decoder"](tf.constant(self._sample_prior), training=False)
        rows = [data.to_uint8(x).numpy(), data.to_uint8(x_bar).numpy(), data.to_uint8(x_p).numpy()]
        grid = summaries.image_grid(np.concatenate(rows), columns=len(self._sample_frames))
        return {"x_xbar_xp": grid[None]}


def save_config(config, workdir):
    """The run's config as JSON in the workdir, so reconstruction rebuilds the same networks."""
    path = pathlib.Path(workdir) / CONFIG_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(config.to_json_best_effort(indent=1))


def saved_model_config(workdir):
    """The `model` block the run in `workdir` was trained with, or None."""
    path = pathlib.Path(workdir) / CONFIG_FILE
    if not path.is_file():
        return None
    return json.loads(path.read_text())["model"]


def check_model_matches(config, workdir):
    """A CheckpointError when `workdir` was trained with another resolution or latent size."""
    saved = saved_model_config(workdir)
    if saved is None:
        return
    mine = config.model
    keys = ("width", "height", "latent_dim", "filters")
    theirs = {k: tuple(saved[k]) if isinstance(saved[k], list) else saved[k] for k in keys}
    ours = {k: tuple(mine[k]) if isinstance(mine[k], (list, tuple)) else mine[k] for k in keys}
    if theirs != ours:
        diff = ", ".join(f"{k} {theirs[k]} (checkpoint) vs {ours[k]} (config)" for k in keys if theirs[k] != ours[k])
        raise errors.CheckpointError(f"{pathlib.Path(workdir) / CONFIG_FILE}: trained with another model: {diff}")


def train_and_evaluate(config, workdir, progress=True):
    """Trains (or resumes) the VAE-GAN in `workdir` as `config` says; returns the loop's Result.

    workdir gets config.json, checkpoints/, tensorboard/ and samples/x_xbar_xp/<step>.png.
    """
    workdir = pathlib.Path(workdir)
    if len(config.noise_schedule) < config.loop.num_epochs:
        raise errors.ConfigError(f"noise_schedule has {len(config.noise_schedule)} values but "
                                 f"loop.num_epochs={config.loop.num_epochs}: give one sigma per epoch")
    if not config.loop.restart:
        check_model_matches(config, workdir)
    stores = load_stores(config, progress=progress)
    data.steps_per_epoch(stores, config.loop.batch_size)  # a video shorter than one batch: say so now
    save_config(config, workdir)
    return loop.train(lambda setup: VaeGanTask(config, setup, stores), config, workdir)


def restore_networks(config, workdir, names=("encoder", "decoder")):
    """The trained networks `names` from the newest checkpoint in `workdir/checkpoints`.

    Uses the model block saved with the run (config.json) so any config can be passed; raises
    CheckpointError when there is no checkpoint or it does not fit.
    """
    workdir = pathlib.Path(workdir)
    saved = saved_model_config(workdir)
    model_config = config.model if saved is None else _as_config(saved)
    built = {"encoder": models.encoder, "decoder": models.decoder, "discriminator": models.discriminator}
    networks = {name: built[name](model_config) for name in names}
    latest = tf.train.latest_checkpoint(str(workdir / "checkpoints"))
    if latest is None:
        raise errors.CheckpointError(f"{workdir / 'checkpoints'}: no checkpoint; train first with "
                                     "run_scripts.vaegan_train")
    try:
        tf.train.Checkpoint(networks=networks).restore(latest).expect_partial().assert_existing_objects_matched()
    except (ValueError, AssertionError, tf.errors.OpError) as error:
        raise errors.CheckpointError(f"{latest}: does not fit the model ({str(error).splitlines()[0][:200]})") from None
    return networks, model_config


def _as_config(model_dict):
    import ml_collections

    return ml_collections.ConfigDict({k: tuple(v) if isinstance(v, list) else v for k, v in model_dict.items()})

