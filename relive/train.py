"""Training of relive's three models as tasks of the shared loop (`videocore.loop`), and the demo.

`train_and_evaluate(config, workdir)` trains `config.model`:
  wgan         3D-conv WGAN (weight clipping, or the gradient penalty with critic.penalty=gradient);
  conditional  the same with the generator fed a frame's code and the critic that frame (clip.condition_frame:
               the middle one by default);
  predictor    LSTM next-frame prediction with an L2 loss (teacher forcing).
One loop step of a GAN is one generator update: its batch holds the critic.steps real batches
(and, conditional, a batch for the generator's photos), all run inside the loop's one compiled step.
"""
import pathlib

import keras
import numpy as np
import PIL.Image
import tensorflow as tf
from absl import logging

from relive import configs
from relive import evaluate
from relive import inputs
from relive import losses
from relive import models
from relive import rollouts
from relive import sample
from videocore import checkpoint
from videocore import device
from videocore import errors
from videocore import files
from videocore import loop
from videocore import metrics
from videocore import optimizers
from videocore import summaries
from videocore import video

OPTIMIZERS = {"adam": optimizers.FusedAdam, "rmsprop": keras.optimizers.RMSprop}
BEST = "best"  # a predictor run's sub-folder holding the networks of its best held-out roll-out (eval.keep_best)


def make_optimizer(spec):
    """A Keras optimizer from a config block {name, learning_rate, and the optimizer's own arguments}."""
    arguments = dict(spec)
    name = arguments.pop("name")
    if name not in OPTIMIZERS:
        raise errors.ConfigError(f"optimizer {name!r} is not one of {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[name](**arguments)


class _ClipTask:
    """What both tasks share: the clip stores, dataset positions and the compute dtype."""

    clips_per_example = 1

    def __init__(self, config, setup):
        self.config = config
        self.setup = setup
        self.dtype = keras.mixed_precision.global_policy().compute_dtype
        self.held_out = []  # frame stores kept out of training, for `evaluate`
        if inputs.is_tfds(config):
            self.stores = None
            clips = config.data.tfds_steps_per_epoch * setup.global_batch * self.clips_per_example
        else:
            self.stores, self.held_out = inputs.frame_stores(config)
            inputs.check_clip_length(config, self.stores)
            clips = inputs.clips_per_epoch(config, self.stores)
        self.steps_per_epoch = max(1, clips // (setup.global_batch * self.clips_per_example))
        self.frames_per_step = setup.global_batch * self.clips_per_example * config.clip.num_frames

    def make_dataset(self, position, global_batch):
        drawn = (position.epoch * self.steps_per_epoch + position.index) * global_batch * self.clips_per_example
        return inputs.random_clips(self.config, self.stores, self.clips_per_example, global_batch, drawn,
                                   self.dtype)

    def _sample_clips(self, count):
        """Fixed real clips (count, T, H, W, 3) float32 for samples."""
        if self.stores is not None:
            return inputs.first_clips(self.config, self.stores, count)
        dataset = inputs.random_clips(self.config, None, 1, count, 0, tf.float32)
        return next(iter(dataset)).numpy()

    def _held_out_clips(self, count, what):
        """Up to `count` held-out clips (N, T, H, W, 3) float32; ConfigError before training if there are none."""
        if not self.held_out:
            raise errors.ConfigError(f"{what} needs held-out frames: set data.validation_source or data.holdout_fraction > 0")
        return inputs.held_out_clips(self.config, self.held_out, count)


class GanTask(_ClipTask):
    """WGAN (unconditional or conditional) on 3D clips; losses are the pure functions of `losses`."""

    def __init__(self, config, setup):
        self.conditional = config.model == "conditional"
        self.critic_steps = int(config.critic.steps)
        if self.critic_steps < 1:
            raise errors.ConfigError(f"critic.steps={self.critic_steps} must be at least 1")
        # Conditional: one more batch of real clips, whose conditioning frames are the generator step's photos.
        self.clips_per_example = self.critic_steps + (1 if self.conditional else 0)
        super().__init__(config, setup)
        form, why = device.conv3d_form(config.get("conv3d", "auto"))
        logging.info("3D convolutions: %s (config.conv3d=%s; %s)", form, config.get("conv3d", "auto"), why)
        if self.conditional:
            generator, critic = models.conditional_generator(config), models.conditional_critic(config)
        else:
            generator, critic = models.video_generator(config), models.video_critic(config)
        self.networks = {"generator": generator, "critic": critic}
        spec = config.optimizers[config.critic.penalty]
        self.optimizers = {"generator": make_optimizer(spec), "critic": make_optimizer(spec)}
        self.penalty = config.critic.penalty
        # Batch norm statistics must not mix real and fake clips; without it one call scores both.
        self.joint_scoring = models.critic_norm(config) != "batch"
        self.sample_noise = sample.fixed_noise(config, config.sample.num_clips)
        self.sample_real = self._sample_clips(config.sample.num_clips) if self.conditional else None
        self.fid_real, self.fid_real_features = None, None
        if config.eval.fid_frames > 0:
            clips_needed = -(-config.eval.fid_frames // config.clip.num_frames)
            self.fid_real = self._held_out_clips(clips_needed, "eval.fid_frames > 0")
            # Fixed noise apart from the sample grids' own, so every evaluation scores the same draws.
            self.fid_noise = sample.fixed_noise(config, len(self.fid_real), seed=config.sample.seed + 1)

    def photo_of(self, clips):
        """The conditioning frame (clip.condition_frame) of each clip (B, T, H, W, 3) -> (B, H, W, 3)."""
        return models.condition_frame(clips, self.config.clip.get("condition_frame", "middle"))

    def _generate(self, photo, noise):
        generator = self.networks["generator"]
        return generator([photo, noise] if self.conditional else noise, training=True)

    def _score(self, clips, photo):
        critic = self.networks["critic"]
        return critic([clips, photo] if self.conditional else clips, training=True)

    def _critic_loss(self, real, fake, photo, ctx, index):
        if self.joint_scoring:
            both_photos = tf.concat([photo, photo], 0) if self.conditional else None
            scores = self._score(tf.concat([real, fake], 0), both_photos)
            real_scores, fake_scores = tf.split(scores, 2)
        else:
            real_scores, fake_scores = self._score(real, photo), self._score(fake, photo)
        wasserstein = losses.wasserstein_critic_loss(real_scores, fake_scores)
        if self.penalty != "gradient":
            return wasserstein, wasserstein, tf.zeros([])
        epsilon = tf.random.stateless_uniform(tf.shape(real)[:1], seed=ctx.seed(f"gp_epsilon_{index}"))
        interpolates = losses.interpolate(real, fake, epsilon)
        penalty = losses.gradient_penalty(lambda clips: self._score(clips, photo), interpolates)
        return wasserstein + self.config.critic.gp_weight * penalty, wasserstein, penalty

    def train_step(self, batch, ctx):
        """batch: real clips (b, K, T, H, W, 3) in [-1, 1]; K = critic steps (+1 when conditional)."""
        size = tf.shape(batch)[0]
        noise_shape = tf.stack([size, self.config.generator.noise_dim])
        for index in range(self.critic_steps):
            real = batch[:, index]
            photo = self.photo_of(real) if self.conditional else None
            noise = tf.random.stateless_normal(noise_shape, seed=ctx.seed(f"critic_noise_{index}"))
            fake = self._generate(photo, noise)  # outside the tape: the critic step leaves G alone
            with tf.GradientTape() as tape:
                critic_loss, wasserstein, penalty = self._critic_loss(real, fake, photo, ctx, index)
            ctx.minimize(tape, critic_loss, "critic")
        photo = self.photo_of(batch[:, self.critic_steps]) if self.conditional else None
        noise = tf.random.stateless_normal(noise_shape, seed=ctx.seed("generator_noise"))
        with tf.GradientTape() as tape:
            generator_loss = losses.wasserstein_generator_loss(self._score(self._generate(photo, noise), photo))
        ctx.minimize(tape, generator_loss, "generator")
        logged = {"critic": critic_loss, "generator": generator_loss, "wasserstein_distance": -wasserstein}
        if self.penalty == "gradient":
            logged["gradient_penalty"] = penalty
        return logged

    def generate_samples(self):
        """The fixed sample clips (N, T, H, W, 3) float32 of the current generator (and their real clips)."""
        photos = self.photo_of(self.sample_real) if self.conditional else None
        return sample.generate(self.networks["generator"], self.sample_noise, photos)

    def sample(self, step):
        del step
        clips = self.generate_samples()
        if self.conditional:
            # Rows alternate: a real clip, then the clip generated around its conditioning frame.
            clips = np.stack([self.sample_real, clips], axis=1).reshape((-1,) + clips.shape[1:])
        columns = 2 if self.conditional else None
        return {"clips": sample.strip(clips, self.config.sample.strip_frames),
                "clips_animated": summaries.Clip(sample.clip_grid(clips, columns=columns), self.config.clip.fps)}

    def evaluate(self, step):
        """{"fid": per-frame FID of generated clips against held-out clips} when eval.fid_frames > 0.

        A conditional generator is given the held-out clips' conditioning frames; frames are scored one
        by one (relive's evaluate.frame_fid).
        """
        del step
        if self.fid_real is None:
            return {}
        if self.fid_real_features is None:  # the held-out frames' features, once per run
            self.fid_real_features = metrics.inception_features(evaluate.frames_of(self.fid_real))
        photos = self.photo_of(self.fid_real) if self.conditional else None
        generated = sample.generate(self.networks["generator"], self.fid_noise, photos)
        features = metrics.inception_features(evaluate.frames_of(generated))
        return {"fid": metrics.frechet_distance_of_features(features, self.fid_real_features)}


class PredictorTask(_ClipTask):
    """Next-frame prediction: frames 0..T-2 in, frames 1..T-1 out, L2 loss; teacher-forced, or after
    predictor.train_context given frames on the predictor's own roll-out."""

    def __init__(self, config, setup):
        super().__init__(config, setup)
        spec = config.predictor
        self.train_context = int(spec.get("train_context", 0))
        if not 0 <= self.train_context < config.clip.num_frames - 1:
            raise errors.ConfigError(f"predictor.train_context={self.train_context} must be in [0, "
                                     f"clip.num_frames - 1 = {config.clip.num_frames - 1})")
        self.flip, self.reverse = bool(spec.get("flip", False)), bool(spec.get("reverse", False))
        loss = spec.get("loss", "l2")
        if loss not in losses.PREDICTION_LOSSES:
            raise errors.ConfigError(f"predictor.loss={loss!r}: choose from {', '.join(losses.PREDICTION_LOSSES)}")
        self.loss = losses.PREDICTION_LOSSES[loss]
        self.networks = {"predictor": models.frame_predictor(config)}
        self.optimizers = {"predictor": make_optimizer(config.optimizers.predictor)}
        self.sample_real = self._sample_clips(min(4, config.sample.num_clips))
        self.eval_clips = (self._held_out_clips(config.eval.clips, "eval.clips > 0")
                           if config.eval.clips > 0 else None)
        self.rollout_steps = tuple(config.eval.get("rollout_steps", ()))
        self.eval_context = int(config.eval.get("context_frames", 2))
        if self.rollout_steps and self.eval_clips is None:
            raise errors.ConfigError("eval.rollout_steps needs held-out clips: set eval.clips > 0")
        if self.rollout_steps and self.eval_context + max(self.rollout_steps) > config.clip.num_frames:
            raise errors.ConfigError(f"eval.context_frames={self.eval_context} + {max(self.rollout_steps)} roll-out "
                                     f"steps do not fit clips of clip.num_frames={config.clip.num_frames}")
        self.best = None
        if config.eval.get("keep_best", False):
            if not self.rollout_steps:
                raise errors.ConfigError("eval.keep_best needs eval.rollout_steps (the error it keeps the best of)")
            # The lowest held-out roll-out error so far, kept in the checkpoint so a resumed run goes on.
            self.state = {"best_rollout_error": tf.Variable(np.inf, dtype=tf.float32, trainable=False)}
            self.best = checkpoint.Checkpointer(setup.workdir / BEST, {checkpoint.NETWORKS: self.networks},
                                                max_to_keep=1, is_chief=setup.is_chief)

    def _augment(self, batch, ctx):
        """Mirrors (predictor.flip) and reverses in time (predictor.reverse) a random half of the clips each."""
        for enabled, tag, axis in ((self.flip, "flip", 3), (self.reverse, "reverse", 1)):
            if enabled:
                chosen = tf.random.stateless_uniform(tf.shape(batch)[:1], seed=ctx.seed(tag)) < 0.5
                batch = tf.where(chosen[:, None, None, None, None], tf.reverse(batch, [axis]), batch)
        return batch

    def _predict(self, frames, training):
        """frames (b, t, H, W, 3) -> predictions of frames 1..t: teacher-forced, or rolled out after
        train_context given frames (gradients flow through the fed-back predictions)."""
        predictor = self.networks["predictor"]
        if not self.train_context:
            return predictor(frames, training=training)
        forced, rolled = rollouts.roll_out(predictor, frames[:, :self.train_context],
                                           frames.shape[1] - self.train_context + 1, training=training)
        return tf.concat([forced[:, :-1], rolled], axis=1)

    def train_step(self, batch, ctx):
        """batch: real clips (b, T, H, W, 3) in [-1, 1]."""
        batch = self._augment(batch, ctx)
        inputs_, targets = batch[:, :-1], batch[:, 1:]
        with tf.GradientTape() as tape:
            predicted = self._predict(inputs_, training=True)
            loss = self.loss(predicted, targets)
        ctx.minimize(tape, loss, "predictor")
        # Predicting "no change" is the baseline a next-frame model has to beat.
        return {"loss": loss, "l2": losses.l2_prediction_loss(predicted, targets),
                "copy_last_l2": losses.l2_prediction_loss(inputs_, targets)}

    def sample(self, step):
        del step
        predictor = self.networks["predictor"]
        clips = self.sample_real
        forced = tf.cast(predictor(clips[:, :-1]), tf.float32).numpy()
        rollout = tf.cast(predictor.rollout(clips[:, 0], clips.shape[1] - 1), tf.float32).numpy()
        # Rows per clip: the real frames 1.., teacher-forced predictions, the roll-out from frame 0 alone.
        rows = np.stack([clips[:, 1:], forced, rollout], axis=1).reshape((-1,) + forced.shape[1:])
        return {"real_forced_rollout": sample.strip(rows, self.config.sample.strip_frames),
                "real_forced_rollout_animated": summaries.Clip(sample.clip_grid(rows, columns=3),
                                                               self.config.clip.fps)}

    def evaluate(self, step):
        """Held-out next-frame PSNR (dB) of the predictor and of copying the last frame, when eval.clips > 0;
        with eval.rollout_steps also roll-out PSNR / SSIM of both (`rollout_<name>_psnr_<k>`...), and with
        eval.keep_best the networks saved to workdir/best when the roll-out error is the lowest yet."""
        if self.eval_clips is None:
            return {}
        figures = evaluate.next_frame_psnr(self.networks["predictor"], self.eval_clips)
        figures = {f"psnr_{name}": value for name, value in figures.items()}
        if not self.rollout_steps:
            return figures
        scores = evaluate.rollout_scores(self.networks["predictor"], self.eval_clips, self.eval_context,
                                         self.rollout_steps)
        for name, values in scores.items():
            figures.update({f"rollout_{name}_{key}": value for key, value in values.items()})
        # Mean squared error over the roll-out steps (up to the factor 255^2), from their PSNRs.
        error = float(np.mean([10 ** (-scores["predictor"][f"psnr_{k}"] / 10) for k in self.rollout_steps]))
        figures["rollout_error"] = error
        if self.best is not None and error < float(self.state["best_rollout_error"].numpy()):
            self.state["best_rollout_error"].assign(error)
            self.best.save(step)
            figures["best_step"] = step
        return figures


TASKS = {"wgan": GanTask, "conditional": GanTask, "predictor": PredictorTask}


def train_and_evaluate(config, workdir):
    """Trains config.model in `workdir` (resuming from its checkpoints), then writes a final sample
    (`workdir/samples/final_<step>.{gif,mp4}`).

    Returns the loop's Result: `outputs` are the final sample's paths, `evaluation` the task's last
    figures (config.eval: the predictor's held-out next-frame PSNR against copying the last frame,
    a GAN's per-frame FID against held-out frames; also in TensorBoard as eval/*).
    """
    if config.model not in TASKS:
        raise errors.ConfigError(f"model={config.model!r} is not one of {', '.join(configs.MODELS)}")
    if config.model != "predictor":  # a predictor's clips need not fit the GANs' latent code
        models.upsampling_steps(config)  # bad sizes fail before any data is decoded
        models.critic_norm(config)
        models.conv3d_form(config)
        models.condition_index(config.clip.get("condition_frame", "middle"), config.clip.num_frames)
    workdir = pathlib.Path(workdir)
    sample.save_run_config(config, workdir)
    task_class = TASKS[config.model]
    result = loop.train(lambda setup: task_class(config, setup), config, workdir)
    result.outputs = list(write_final_sample(config, result.task, workdir / "samples" / f"final_{result.step:08d}"))
    return result


def write_final_sample(config, task, stem):
    """The task's samples as a clip grid `stem`.gif + `stem`.mp4; returns the paths."""
    if isinstance(task, GanTask):
        clips = task.generate_samples()
        if task.conditional:
            clips = np.stack([task.sample_real, clips], axis=1).reshape((-1,) + clips.shape[1:])
            return sample.write_clip(stem, sample.clip_grid(clips, columns=2), config.clip.fps)
        return sample.write_clip(stem, sample.clip_grid(clips), config.clip.fps)
    predictor = task.networks["predictor"]
    clips = task.sample_real
    rollout = tf.cast(predictor.rollout(clips[:, 0], clips.shape[1] - 1), tf.float32).numpy()
    # Columns: the real clip, and its first frame followed by the roll-out.
    rolled = np.concatenate([clips[:, :1], rollout], axis=1)
    pairs = np.stack([clips, rolled], axis=1).reshape((-1,) + clips.shape[1:])
    return sample.write_clip(stem, sample.clip_grid(pairs, columns=2), config.clip.fps)


def demo(workdir, num_steps=None):
    """`make demo`'s relive stage: WGAN-GP (configs.demo) on the bundled carphone clip, then one sample grid
    of 16 clips from the trained generator; then a small conditional WGAN-GP and LSTM predictor on the
    same clip relive a photo that is not from it (a frame of the bundled bikes clip, saved as a JPEG).

    Returns the written paths: the final training sample and the grid, each GIF and MP4, the photo
    and `relive_photo.gif` / `.mp4` (the still photo | the conditional clip | the LSTM roll-out).
    On the quiet 2-core AVX512_BF16 EPYC (oneDNN, bf16) the stage took 74 s (WGAN-GP ~0.11 s a step). With
    oneDNN off there (Eigen's kernels, as on AVX2-only CPUs) a WGAN-GP step is 0.73 s with the 3D
    convolutions as 2D sums (config.conv3d=auto) against 11.6 s native. num_steps: every model's (smoke tests).
    """
    config = configs.demo()
    if num_steps:
        config.loop.num_steps = num_steps
    workdir = pathlib.Path(workdir)
    result = train_and_evaluate(config, workdir / "relive_wgan_gp")
    grid = sample.sample_grid(config, workdir / "relive_wgan_gp", workdir / "relive_samples")
    return list(result.outputs) + list(grid) + demo_relive_photo(workdir, num_steps)


def demo_relive_photo(workdir, num_steps=None):
    """Trains configs.demo_conditional() and configs.demo_predictor() in `workdir` and relives a frame of
    the bundled bikes clip with both; returns [the photo, relive_photo.gif, relive_photo.mp4]."""
    workdir = pathlib.Path(workdir)
    runs = {}
    for name, make in (("conditional", configs.demo_conditional), ("predictor", configs.demo_predictor)):
        config = make()
        if num_steps:
            config.loop.num_steps = num_steps
        runs[name] = workdir / f"relive_{name}"
        train_and_evaluate(config, runs[name])
    photo = write_demo_photo(workdir / "relive_photo_source.jpg")
    clips = sample.relive_photo_clips(configs.demo(), photo, runs["conditional"], runs["predictor"])
    config = configs.demo()
    paths = sample.write_clip(workdir / "relive_photo", sample.clip_grid(clips, columns=3), config.clip.fps)
    print(f"wrote {paths[0]} and {paths[1]}: {photo.name} (not from the training clip) still, then relived by "
          "the conditional WGAN-GP and by the LSTM predictor")
    return [photo] + paths


def write_demo_photo(path, source="bikes", seconds=4.0):
    """A frame of a bundled clip as a JPEG at `path` (a still no relive demo model trained on)."""
    frame = next(iter(video.read_frames(video.sample_clip(source), start=seconds)), None)
    if frame is None:
        raise errors.VideoError(video.sample_clip(source), f"no frame at {seconds} s")
    path = pathlib.Path(path)
    with files.atomic_path(path) as temp:
        PIL.Image.fromarray(frame).save(temp, format="JPEG", quality=92)
    return path
