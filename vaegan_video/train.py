"""Algorithm 1: the VAE-GAN trained on every frame of a film, as a task on the shared loop."""

import pathlib

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from videocore import data
from videocore import errors
from videocore import framestore
from videocore import loop
from videocore import metrics
from videocore import summaries
from videocore import workdir as workdirs
from vaegan_video import losses
from vaegan_video import models

NETWORKS = ("encoder", "decoder", "discriminator")
SATURATED = 1e-6  # Dis's mean output below this or above 1 - this counts as saturated


def load_stores(config, progress=True):
    """The frame stores of `config.data.videos` at the model's size (decoded once, then reused)."""
    videos = config.data.videos
    if isinstance(videos, str):
        videos = [v for v in videos.split(",") if v]
    if not videos:
        raise errors.ConfigError("config.data.videos is empty: name at least one video to train on")
    spans = list(config.data.get("spans", ()) or ())
    if spans and len(spans) != len(videos):
        raise errors.ConfigError(f"config.data.spans has {len(spans)} entries for {len(videos)} videos: give one "
                                 "'start:end' (seconds, either may be empty) per video, or none")
    stores = []
    for index, path in enumerate(videos):
        start, end = _span(spans[index]) if spans else (config.data.start, config.data.end)
        stores += framestore.load_stores([path], size=(config.model.width, config.model.height),
                                         aspect=config.data.aspect or None, start=start, end=end,
                                         cache_dir=config.data.cache_dir or None, progress=progress)
    return stores


def _span(text):
    """'2.5:10' -> (2.5, 10.0); an empty side is None (the video's start or end)."""
    try:
        start, end = (float(side) if side.strip() else None for side in str(text).split(":"))
    except ValueError:
        raise errors.ConfigError(f"config.data.spans: {text!r} is not 'start:end' in seconds (e.g. ':9.6')") from None
    return start, end


class VaeGanTask:
    """The three networks, their Adam optimizers and one step of Algorithm 1 (lines 5-16)."""

    def __init__(self, config, setup, stores, eval_frames=None):
        self.config = config
        self.stores = stores
        self._eval_frames = eval_frames  # (N, H, W, 3) uint8 consecutive frames kept out of training, or None
        self.networks = models.build(config)
        opt = config.optimizer
        self.optimizers = {name: keras.optimizers.Adam(opt.learning_rate, beta_1=opt.beta_1, name=f"adam_{name}")
                           for name in NETWORKS}
        self.trains = {name: (name,) for name in NETWORKS}
        if opt.get("reproduce_swapped_updates", False):
            # The released code's substring bug: each optimizer got the other's variable list, chosen by
            # name: 'g_' in v.name (the decoder's) also matched the encoder's e_z_log_sigma ("lo-g_-sigma"),
            # so the encoder's objective moved the decoder and the log sigma^2 head; 'e_' took the whole
            # encoder, that head included, for the decoder's objective.
            self.trains.update(encoder=("decoder", "encoder/enc_log_var"), decoder=("encoder",))
        _check_loss_config(config)
        # False: a plain VAE (Neural Dream Videos' own), -L_GAN dropped and Dis never updated.
        self.adversarial = bool(config.loss.get("adversarial", True))
        self._data_steps_per_epoch = data.steps_per_epoch(stores, setup.global_batch)
        self.steps_per_epoch = int(config.data.get("steps_per_epoch", 0) or self._data_steps_per_epoch)
        self.global_batch = setup.global_batch
        self.schedules = {"noise": [float(v) for v in config.noise_schedule]}
        # Steps in a row with a saturated Dis (-1 once warned); per replica, never checkpointed.
        self._saturated_steps = tf.Variable(0, trainable=False, dtype=tf.int64, name="dis_saturated_steps",
                                            synchronization=tf.VariableSynchronization.ON_READ,
                                            aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
        self.compute_dtype = keras.mixed_precision.dtype_policy().compute_dtype
        self.seed = setup.seed
        rng = np.random.Generator(np.random.PCG64(config.loop.seed))
        # Fixed frames and prior draws, so sample grids show the same things as training goes on.
        total = sum(len(s) for s in stores)
        picks = np.sort(rng.choice(total, size=min(config.num_samples, total), replace=False))
        offsets = np.cumsum([0] + [len(s) for s in stores])
        which = np.searchsorted(offsets, picks, side="right") - 1
        self._sample_frames = np.stack([stores[w].frames[p - offsets[w]] for w, p in zip(which, picks)])
        if config.loss.get("prior", "normal") == "uniform":
            self._sample_prior = rng.uniform(-1, 1, (len(picks), config.model.latent_dim)).astype(np.float32)
        else:
            self._sample_prior = rng.standard_normal((len(picks), config.model.latent_dim)).astype(np.float32)

    def make_dataset(self, position, global_batch):
        if self.steps_per_epoch != self._data_steps_per_epoch:
            # "Epochs" of a fixed step count: the same stream of passes over the frames, entered
            # at the batch the run has reached, so a resumed run sees what a continuous one would.
            done = int(position[0]) * self.steps_per_epoch + int(position[1])
            position = divmod(done, self._data_steps_per_epoch)
        return data.shuffled_batches(self.stores, global_batch, self.seed, position=tuple(position),
                                     dtype=self.compute_dtype)

    def objectives(self, x, eps, z_prior, training=True):
        """Forward pass of Algorithm 1 (lines 6-12) and the three networks' objectives (4.12-4.14).

        x: (B, H, W, 3) in [-1, 1]; eps: (B, latent) noise already scaled by the epoch's sigma;
        z_prior: (B, latent) drawn from the prior. Returns float32 scalars: the losses, the three
        objectives (clipped when loss.objective_clip) and Dis's mean output on x, x_bar and x_p.
        """
        enc, dec = self.networks["encoder"], self.networks["decoder"]
        loss_config = self.config.loss
        mu, log_var = enc(x, training=training)
        z = mu + tf.exp(0.5 * log_var) * eps  # z = mu + sigma * eps (eq. 2.4)
        x_bar = tf.cast(dec(z, training=training), x.dtype)
        kl = losses.kl_divergence(mu, log_var, reduction=loss_config.kl_reduction,
                                  clip=loss_config.get("kl_clip", 0.0))
        if not self.adversarial:
            return self._vae_objectives(x, x_bar, kl, training)
        x_p = tf.cast(dec(z_prior, training=training), x.dtype)
        features_real, features_bar, (logit_real, logit_bar, logit_p) = self.discriminate(x, x_bar, x_p, training)
        if loss_config.similarity == "pixel":
            like = losses.pixel_mse(x, x_bar, loss_config.get("pixel_reduction", "mean"))
        else:
            like = losses.learned_similarity(features_real, features_bar)
        dis_real, dis_bar, dis_p = (tf.sigmoid(tf.cast(l, tf.float32)) for l in (logit_real, logit_bar, logit_p))
        reduction = loss_config.get("gan_reduction", "mean")
        if loss_config.get("gan_from_logits", False):
            terms = losses.gan_terms_from_logits(logit_real, logit_bar, logit_p)
        elif reduction == "released":
            terms = losses.gan_terms_released(dis_real, dis_bar, dis_p)
        else:
            terms = None
        if terms is None:
            gan = losses.gan_loss(dis_real, dis_bar, dis_p, clip_min=loss_config.gan_clip_min)
        else:
            gan = losses.combine_gan_terms(*terms, reduction=reduction, batch_size=self.global_batch)
        objectives = {
            "encoder": losses.encoder_objective(kl, like),
            "decoder": losses.decoder_objective(like, gan, loss_config.gamma),
            "discriminator": losses.discriminator_objective(gan),
        }
        if loss_config.get("objective_clip", False):
            objectives = {name: losses.clip_objective(value, loss_config[f"{name}_range"])
                          for name, value in objectives.items()}
        mean_cross_entropy = lambda logit, label: tf.reduce_mean(  # noqa: E731
            tf.nn.sigmoid_cross_entropy_with_logits(tf.fill(tf.shape(logit), label), tf.cast(logit, tf.float32)))
        return {
            "kl": kl, "like": like, "gan": gan, **objectives,
            # Dis's cross entropy on real frames and on fakes (x_bar and x_p averaged): the equilibrium rule's input.
            "real_cost": mean_cross_entropy(logit_real, 1.0),
            "fake_cost": 0.5 * (mean_cross_entropy(logit_bar, 0.0) + mean_cross_entropy(logit_p, 0.0)),
            "dis_real": tf.reduce_mean(dis_real),
            "dis_fake": tf.reduce_mean(dis_bar),
            "dis_prior": tf.reduce_mean(dis_p),
        }

    def _vae_objectives(self, x, x_bar, kl, training):
        """loss.adversarial=False: no L_GAN anywhere, so no x_p and, with the pixel similarity, no
        call of Dis at all; the decoder follows gamma * L_like, the encoder L_KL + L_like."""
        loss_config = self.config.loss
        if loss_config.similarity == "pixel":
            like = losses.pixel_mse(x, x_bar, loss_config.get("pixel_reduction", "mean"))
        else:
            dis = self.networks["discriminator"]
            like = losses.learned_similarity(dis(x, training=training)[:-1], dis(x_bar, training=training)[:-1])
        objectives = {"encoder": losses.encoder_objective(kl, like),
                      "decoder": losses.decoder_objective(like, 0.0, loss_config.gamma)}
        if loss_config.get("objective_clip", False):
            objectives = {name: losses.clip_objective(value, loss_config[f"{name}_range"])
                          for name, value in objectives.items()}
        return {"kl": kl, "like": like, **objectives}

    def discriminate(self, x, x_bar, x_p, training=True):
        """Dis on x, x_bar and x_p, each (B, H, W, 3), as `loss.dis_batches` says.

        Returns (features of x, features of x_bar, (logit of x, of x_bar, of x_p)): 4 tensors
        (B, h_l, w_l, c_l) each, and logits (B, 1) float32.
        """
        dis = self.networks["discriminator"]
        if self.config.loss.get("dis_batches", "separate") == "joint":
            # One batch (3B, ...) as Larsen et al.'s reference: one set of BN statistics for all.
            *features, logits = dis(tf.concat([x, x_bar, x_p], 0), training=training)
            size = tf.shape(x)[0]
            return ([f[:size] for f in features], [f[size:2 * size] for f in features],
                    (logits[:size], logits[size:2 * size], logits[2 * size:]))
        # Three batches, each normalised with its own statistics (4.5, and the released code).
        *features_real, logit_real = dis(x, training=training)
        *features_bar, logit_bar = dis(x_bar, training=training)
        logit_p = dis(x_p, training=training)[-1]
        return features_real, features_bar, (logit_real, logit_bar, logit_p)

    def draw_noise(self, batch_size, ctx):
        """eps (B, latent) ~ N(0, sigma^2) with the epoch's sigma, and z_p (B, latent) from the prior."""
        latent = self.config.model.latent_dim
        sigma = ctx.value("noise")
        if self.config.get("noise_range", ()):
            low, high = self.config.noise_range
            sigma = tf.clip_by_value(sigma, float(low), float(high))
        eps = tf.random.stateless_normal((batch_size, latent), seed=ctx.seed("eps")) * sigma
        if self.config.loss.get("prior", "normal") == "uniform":
            z_prior = tf.random.stateless_uniform((batch_size, latent), seed=ctx.seed("prior"), minval=-1.0, maxval=1.0)
        else:
            z_prior = tf.random.stateless_normal((batch_size, latent), seed=ctx.seed("prior"))
        return eps, z_prior

    def train_step(self, x, ctx):
        eps, z_prior = self.draw_noise(tf.shape(x)[0], ctx)
        with tf.GradientTape(persistent=True) as tape:
            values = self.objectives(x, eps, z_prior)
        updates = self.equilibrium_updates(values) if self.adversarial else {}
        for name in NETWORKS:  # each optimizer, its own network, its own objective (4.12-4.14)
            if name in values:  # without the adversarial term Dis has no objective: not updated
                ctx.minimize(tape, values[name], name, clip_value=self.config.optimizer.clip_value or None,
                             when=updates.get(name))
        del tape
        if not self.adversarial:
            return {"kl": values["kl"], "like": values["like"]}
        self.watch_saturation(values)
        metrics = {name: values[name] for name in ("kl", "like", "gan", "dis_real", "dis_fake", "dis_prior")}
        metrics.update({f"{name}_updated": tf.cast(flag, tf.float32) for name, flag in updates.items()})
        return metrics

    def equilibrium_updates(self, values):
        """loss.equilibrium_margin > 0: which of Dec and Dis this step updates, by the equilibrium rule of
        Larsen et al.'s VAE-GAN code (and the DCGAN code before it). With Dis's mean cross entropy on real
        frames and on fakes: either below equilibrium - margin (Dis far ahead) skips Dis's update; either
        above equilibrium + margin (Dec far ahead) skips Dec's; both skipped means both run. Not in the
        dissertation: an option for when its Dis saturates. Returns {} when off."""
        margin = float(self.config.loss.get("equilibrium_margin", 0.0))
        if margin <= 0:
            return {}
        centre = float(self.config.loss.get("equilibrium", 0.68))
        costs = (values["real_cost"], values["fake_cost"])
        dis = tf.logical_not(tf.reduce_any([c < centre - margin for c in costs]))
        dec = tf.logical_not(tf.reduce_any([c > centre + margin for c in costs]))
        neither = tf.logical_not(dis | dec)
        return {"discriminator": dis | neither, "decoder": dec | neither}

    def watch_saturation(self, values):
        """Counts steps in a row with Dis saturated on x, x_bar and x_p; logs one warning at loss.saturation_steps."""
        limit = int(self.config.loss.get("saturation_steps", 0))
        # XLA cannot compile the call back into Python that logs the warning.
        if limit <= 0 or self.config.loop.get("jit_compile", False):
            return
        means = tf.stack([values["dis_real"], values["dis_fake"], values["dis_prior"]])
        saturated = tf.reduce_all((means < SATURATED) | (means > 1.0 - SATURATED))
        count = self._saturated_steps.read_value()
        count = tf.where(count < 0, count, tf.where(saturated, count + 1, tf.constant(0, tf.int64)))

        def log_warning(real, reconstructed, prior):
            logging.warning("the discriminator has been saturated for %d steps in a row (mean output < %g or "
                            "> 1 - %g on real, reconstructed and prior frames: now %.3g, %.3g, %.3g); the "
                            "adversarial term has (almost) no gradient left", limit, SATURATED, SATURATED,
                            float(real), float(reconstructed), float(prior))
            return np.int64(-1)  # warned: never again in this run

        def warn():
            # absl's logger (not a C++ log line, which the scripts' TF_CPP_MIN_LOG_LEVEL hides).
            return tf.reshape(tf.py_function(log_warning, [means[0], means[1], means[2]], tf.int64), [])

        count = tf.cond(tf.equal(count, limit), warn, lambda: count)
        self._saturated_steps.assign(count)

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

    def evaluate(self, step):
        """Fidelity on the held-out frames: PSNR (dB) of their reconstructions Dec(mu) and how much of
        their motion the reconstructions keep (temporal collapse ratio: 1 = all, 0 = one frame for all)."""
        del step
        if self._eval_frames is None:
            return {}
        frames = self._eval_frames
        reconstructed = []
        for start in range(0, len(frames), self.global_batch):
            x = data.to_float(frames[start:start + self.global_batch], self.compute_dtype)
            mu, _ = self.networks["encoder"](x, training=False)
            reconstructed.append(data.to_uint8(self.networks["decoder"](mu, training=False)).numpy())
        reconstructed = np.concatenate(reconstructed)
        figures = {"psnr": metrics.psnr(reconstructed, frames)}
        if np.any(frames[1:] != frames[:-1]):  # the ratio means nothing for a still shot
            figures["collapse_ratio"] = metrics.temporal_collapse_ratio(reconstructed, frames)
        return figures


def _check_loss_config(config):
    """A ConfigError naming the field when a loss option has a value the task does not know."""
    choices = {"dis_batches": ("separate", "joint"), "prior": ("normal", "uniform"),
               "gan_reduction": ("mean", "released"), "similarity": ("learned", "pixel"),
               "pixel_reduction": ("mean", "sum"), "kl_reduction": ("mean", "sum")}
    for field, allowed in choices.items():
        value = config.loss.get(field, allowed[0])
        if value not in allowed:
            raise errors.ConfigError(f"config.loss.{field}={value!r}: choose one of {', '.join(allowed)}")


KIND = "vaegan"  # how videocore.workdir marks this method's runs


def saved_model_config(workdir):
    """The `model` block the run in `workdir` was trained with, or None (WorkdirError if `workdir`
    is not a VAE-GAN run)."""
    saved = workdirs.load_config(workdir, KIND)
    if saved is None:
        return None
    model = saved.get("model")
    if not isinstance(model, dict) or not {"width", "height", "latent_dim"} <= set(model):
        raise workdirs.WorkdirError(f"{pathlib.Path(workdir) / workdirs.CONFIG_FILE}: not a VAE-GAN run's config "
                                    "(no model block with width, height and latent_dim)")
    return model


def check_model_matches(config, workdir):
    """A CheckpointError when `workdir` was trained with another resolution or latent size."""
    if not (pathlib.Path(workdir) / workdirs.CONFIG_FILE).is_file():
        return
    saved = saved_model_config(workdir)
    if saved is None:
        return
    mine = config.model
    keys = ("kind", "width", "height", "latent_dim", "filters")
    defaults = {"kind": "conv"}  # runs from before the MLP kind existed are conv runs

    def fields(model):
        values = {k: model.get(k, defaults.get(k)) for k in keys}
        return {k: tuple(v) if isinstance(v, (list, tuple)) else v for k, v in values.items()}

    theirs, ours = fields(saved), fields(mine)
    if theirs != ours:
        diff = ", ".join(f"{k} {theirs[k]} (checkpoint) vs {ours[k]} (config)" for k in keys if theirs[k] != ours[k])
        raise errors.CheckpointError(f"{pathlib.Path(workdir) / workdirs.CONFIG_FILE}: trained with another model: "
                                     f"{diff}")


def train_and_evaluate(config, workdir, progress=True):
    """Trains (or resumes) the VAE-GAN in `workdir` as `config` says; returns the loop's Result.

    workdir gets config.json, checkpoints/, tensorboard/ and samples/x_xbar_xp/<step>.png. With
    eval.frames > 0 the Result's `evaluation` (and TensorBoard's eval/*) holds the held-out PSNR
    and temporal collapse ratio (VaeGanTask.evaluate).
    """
    workdir = workdirs.prepare(workdir, KIND)
    try:
        models.builders(config.model)
    except ValueError as error:
        raise errors.ConfigError(str(error)) from None
    if len(config.noise_schedule) < config.loop.num_epochs:
        raise errors.ConfigError(f"noise_schedule has {len(config.noise_schedule)} values but "
                                 f"loop.num_epochs={config.loop.num_epochs}: give one sigma per epoch")
    if not config.loop.restart:
        check_model_matches(config, workdir)
    held_out = config.eval.frames if "eval" in config else 0  # configs saved before the hook have none
    stores, eval_frames = hold_out(load_stores(config, progress=progress), held_out)
    data.steps_per_epoch(stores, config.loop.batch_size)  # a video shorter than one batch: say so now
    workdirs.save_config(config, workdir, KIND)
    return loop.train(lambda setup: VaeGanTask(config, setup, stores, eval_frames), config, workdir)


def hold_out(stores, count):
    """(training stores, the last `count` frames of the first video (count, H, W, 3) uint8 or None).

    The held-out frames are consecutive, so the temporal collapse ratio can be measured on them.
    """
    if count <= 0:
        return stores, None
    first = stores[0]
    if not 2 <= count < len(first):
        raise errors.ConfigError(f"eval.frames={count}: hold out at least 2 and fewer than the "
                                 f"{len(first)} frames of {first.source or 'the first video'}")
    kept = framestore.FrameStore(first.frames[:len(first) - count], first.fps, first.source, first.manifest)
    return [kept] + list(stores[1:]), np.array(first.frames[len(first) - count:])


def restore_networks(config, workdir, names=("encoder", "decoder")):
    """(networks {name: model}, model config, checkpoint path): the trained networks `names` from
    the newest readable checkpoint of the VAE-GAN run in `workdir`.

    Uses the model block saved with the run (config.json) so any config can be passed; raises
    WorkdirError when `workdir` is not a VAE-GAN run, CheckpointError when there is no readable
    checkpoint or it does not fit.
    """
    saved = saved_model_config(workdir)
    model_config = config.model if saved is None else _as_config(saved)
    built = models.builders(model_config)  # the conv networks, or the MLP kind (model.kind)
    networks = {name: built[name](model_config) for name in names}
    path = workdirs.restore(workdir, networks, KIND)
    return networks, model_config, path


def _as_config(model_dict):
    import ml_collections

    return ml_collections.ConfigDict({k: tuple(v) if isinstance(v, list) else v for k, v in model_dict.items()})

