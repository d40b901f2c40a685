"""Training the latent sequence model on the shared loop: truncated BPTT with the LSTM state carried over."""

import json
import pathlib

import keras
import ml_collections
import numpy as np
import tensorflow as tf

from videocore import errors
from videocore import files
from videocore import loop
from videocore import summaries
from videocore import workdir as workdirs
from vaegan_video.latent_dream import latents
from vaegan_video.latent_dream import models
from vaegan_video.latent_dream import losses
from vaegan_video.latent_dream import input_pipeline

KIND = "latent_dream"  # how videocore.workdir marks this method's runs
RUN_FILE = "sequence.json"  # facts resolved at training time: latent size, z noise, frame rate, latents
EVAL_FILE = "evaluation.json"


class SequenceTask:
    """The sequence model, its Adam optimizer, the carried LSTM state and one truncated-BPTT step.

    `state` holds one (lanes, units) variable per LSTM state tensor: row b is the state lane b
    ended its last window with. It is checkpointed with the run, so a resumed run carries on.
    """

    def __init__(self, config, setup, streams, z_noise, codec=None, held_out=None):
        self.config = config
        self.streams = streams
        self.held_out = held_out  # (whole streams, holdout fraction) for `evaluate`, or None
        self.z_noise = float(z_noise)
        self.codec = codec
        dim = streams[0].latent_dim
        self.model = models.build(config.model, dim)
        self.networks = {"sequence": self.model}
        self.optimizers = {"sequence": keras.optimizers.Adam(config.optimizer.learning_rate, name="adam_sequence")}
        self.layout = input_pipeline.Layout(tuple(len(s) for s in streams), lanes=setup.global_batch,
                                           window=config.train.window, seed=setup.seed,
                                           shift_windows=config.data.shift_windows)
        self.steps_per_epoch = self.layout.steps_per_epoch
        self.frames_per_step = setup.global_batch * config.train.window
        optimizer = config.optimizer
        self.decay = float(optimizer.get("decay_per_epoch", 1.0))
        if self.decay != 1.0:
            # Per data epoch, through the loop's checkpointed schedules (the notebook's lr x 0.97^epoch).
            epochs = config.loop.num_epochs or -(-config.loop.num_steps // self.steps_per_epoch)
            self.schedules = {"learning_rate": [optimizer.learning_rate * self.decay ** epoch
                                                for epoch in range(max(int(epochs), 1))]}
        self.l2_reduction = config.get("loss", {}).get("l2_reduction", "mean")
        # ONLY_FIRST_REPLICA: every replica computes the same whole table (see _carry), one copy is kept.
        self.carried = [tf.Variable(tf.zeros((setup.global_batch, config.model.units)), trainable=False,
                                    aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA, name=f"carried_{i}")
                        for i in range(models.num_states(self.model))]
        self.state = {f"carried_{i}": variable for i, variable in enumerate(self.carried)}

    def make_dataset(self, position, global_batch):
        del global_batch  # the layout's lanes
        return input_pipeline.window_batches(self.streams, self.layout, tuple(position), z_noise=self.z_noise,
                                            resample=self.config.data.resample)

    def initial_states(self, batch):
        keep = (1.0 - batch["reset"])[:, None]
        return [tf.gather(variable, batch["lane"]) * keep for variable in self.carried]

    def _carry(self, lanes, states):
        """Writes each row's final state back to its lane's row, gathering rows from every replica."""
        context = tf.distribute.get_replica_context()
        for variable, state in zip(self.carried, states):
            rows = tf.scatter_nd(lanes[:, None], tf.cast(tf.stop_gradient(state), tf.float32), tf.shape(variable))
            if context is not None and context.num_replicas_in_sync > 1:
                rows = context.all_reduce(tf.distribute.ReduceOp.SUM, rows)
            variable.assign(rows)

    def train_step(self, batch, ctx):
        initial = self.initial_states(batch)
        if self.decay != 1.0:
            self.optimizers["sequence"].learning_rate = ctx.value("learning_rate")
        with tf.GradientTape() as tape:
            outputs = self.model([batch["inputs"], *initial], training=True)
            value = losses.loss(outputs, batch["targets"], batch["mask"], self.l2_reduction)
        ctx.minimize(tape, value, "sequence", clip_value=self.config.optimizer.clip_value or None,
                     clip_norm=self.config.optimizer.get("clip_norm", 0.0) or None)
        self._carry(batch["lane"], outputs["states"])
        predicted = models.expected_next(outputs)
        squared = tf.reduce_mean(tf.square(predicted - batch["targets"]), axis=-1)
        copy_last = tf.reduce_mean(tf.square(batch["inputs"] - batch["targets"]), axis=-1)
        return {"loss": value, "mse": losses.masked_mean(squared, batch["mask"]),
                "mse_copy_last": losses.masked_mean(copy_last, batch["mask"])}

    def sample(self, step):
        """A strip for TensorBoard: real frames (decoded mu) over the dream (its mode fed back) from the same start."""
        del step
        if self.codec is None:
            return {}
        stream = self.streams[0]
        count = min(self.config.sample.frames, len(stream) // 2)  # warm up on `count` frames, dream `count`
        if count < 1:
            return {}
        real = stream.mu[:2 * count]
        rolled = rollout_mode(self.model, real[:count], count)
        frames = self.codec.decode(np.concatenate([real[count:], rolled]))
        # The same frames played: real | dream side by side, animated in TensorBoard's Images tab.
        playing = np.concatenate([frames[:count], frames[count:]], axis=2)
        return {"real_over_dream": summaries.image_grid(frames, columns=len(rolled))[None],
                "real_beside_dream": summaries.Clip(playing, float(stream.fps))}

    def evaluate(self, step):
        """Next-latent error on the held-out frames against copying the last latent (see `evaluate`)."""
        del step
        if self.held_out is None:
            return {}
        streams, fraction = self.held_out
        return evaluate(self.model, streams, fraction)


def rollout_mode(model, warm_latents, count):
    """Warms `model` up on (S, D) latents, then feeds back its mode for `count` steps -> (count, D)."""
    z = tf.constant(np.asarray(warm_latents, np.float32)[None])
    outputs = model([z, *models.zero_states(model, 1)], training=False)
    states = outputs["states"]
    current = models.mode_next(outputs)[:, -1:]
    result = []
    for _ in range(count):
        result.append(current[0, 0].numpy())
        outputs = model([current, *states], training=False)
        states = outputs["states"]
        current = models.mode_next(outputs)
    return np.stack(result)


# ----------------------------------------------------------------------------- the run


def _videos(config):
    videos = config.data.videos
    if isinstance(videos, str):
        videos = [v for v in videos.split(",") if v]
    if not videos:
        raise errors.ConfigError("config.data.videos is empty: name at least one video to learn the latents of")
    return [str(v) for v in videos]


def load_latents(config, codec=None, progress=True):
    """(codec, [LatentSequence per video]) for `config.data.videos` under `config.vaegan_workdir`."""
    if not config.vaegan_workdir:
        raise errors.ConfigError("config.vaegan_workdir is empty: give the workdir of a trained VAE-GAN")
    codec = codec or latents.Codec(config.vaegan_workdir, config.data.encode_precision)
    streams = [latents.encode_video(config.vaegan_workdir, video, start=config.data.start, end=config.data.end,
                                    cache_dir=config.data.cache_dir or None, batch_size=config.data.encode_batch,
                                    codec=codec, progress=progress)
               for video in _videos(config)]
    return codec, streams


def resolve_z_noise(config, codec):
    """config.data.z_noise, or the last noise sigma of the VAE-GAN run when it is None."""
    value = config.data.z_noise
    return codec.noise if value is None else float(value)


def train_and_evaluate(config, workdir, progress=True):
    """Trains (or resumes) the sequence model in `workdir` on the latents of `config.data.videos`.

    workdir gets config.json, sequence.json (latent size, z noise, frame rate, latent files),
    checkpoints/, tensorboard/, samples/ and, with a hold-out, evaluation.json (next-latent error
    on the held-out frames against copying the last latent: the task's `evaluate`, run every
    loop.eval_every_steps and after the last step, also in TensorBoard as eval/*). Returns the
    loop's Result, its `evaluation` those figures.
    """
    workdir = workdirs.prepare(workdir, KIND)
    if not 0 <= config.data.holdout_fraction < 1:
        raise errors.ConfigError(f"data.holdout_fraction={config.data.holdout_fraction} must be in [0, 1)")
    try:
        models.check_config(config.model)
    except ValueError as error:
        raise errors.ConfigError(str(error)) from None
    reduction = config.get("loss", {}).get("l2_reduction", "mean")
    if reduction not in ("mean", "sum"):
        raise errors.ConfigError(f"config.loss.l2_reduction={reduction!r}: choose 'mean' or 'sum'")
    codec, streams = load_latents(config, progress=progress)
    check_run_matches(workdir, codec.latent_dim, config)
    training = [stream.split(config.data.holdout_fraction)[0] for stream in streams]
    z_noise = resolve_z_noise(config, codec)
    input_pipeline.Layout(tuple(len(s) for s in training), lanes=config.loop.batch_size,
                         window=config.train.window, shift_windows=config.data.shift_windows)  # too short: say so now
    workdirs.save_config(config, workdir, KIND)
    run = {"latent_dim": codec.latent_dim, "z_noise": z_noise, "fps": str(streams[0].fps),
           "vaegan_workdir": str(pathlib.Path(config.vaegan_workdir).resolve()),
           "videos": [s.source for s in streams], "latents": [str(s.path) for s in streams]}
    with files.atomic_path(workdir / RUN_FILE) as temp:
        temp.write_text(json.dumps(run, indent=1))
    held_out = (streams, config.data.holdout_fraction) if config.data.holdout_fraction > 0 else None
    result = loop.train(lambda setup: SequenceTask(config, setup, training, z_noise, codec, held_out), config,
                        workdir)
    if result.evaluation:  # the chief's figures after the last step (none when a signal stopped the run)
        with files.atomic_path(workdir / EVAL_FILE) as temp:
            temp.write_text(json.dumps(result.evaluation, indent=1))
    return result


def check_run_matches(workdir, latent_dim, config):
    """CheckpointError when `workdir` holds a run over another latent size or model shape."""
    path = pathlib.Path(workdir) / RUN_FILE
    if config.loop.restart or not path.is_file():
        return
    saved = json.loads(path.read_text())
    saved_model = (workdirs.load_config(workdir, KIND) or {}).get("model") or {}
    keys = ("units", "num_layers", "head", "num_mixtures", "residual")
    problems = [f"latent_dim {saved['latent_dim']} (checkpoint) vs {latent_dim} (VAE-GAN)"] \
        if saved["latent_dim"] != latent_dim else []
    problems += [f"model.{k} {saved_model[k]} (checkpoint) vs {config.model[k]} (config)"
                 for k in keys if k in saved_model and saved_model[k] != config.model[k]]
    if problems and workdirs.latest_checkpoint(workdir):
        raise errors.CheckpointError(f"{path.parent}: trained with another model: {', '.join(problems)} "
                                     "(use another workdir or --config.loop.restart)")


def evaluate(model, streams, holdout_fraction, chunk=1024):
    """Next-latent error on the held-out last part of every stream, against copying the last latent.

    The model reads each whole stream of mu from the start, `chunk` frames at a time with its
    state carried (so its state has seen the training part), and its expected next latent is
    scored on the held-out transitions only. Returns {"mse", "mse_copy_last", "ratio", "frames"}
    and, for the mdn head, "nll" (nats per dimension).
    """
    sums = {"mse": 0.0, "mse_copy_last": 0.0, "nll": 0.0}
    count, mixture = 0, False
    for stream in streams:
        training, held = stream.split(holdout_fraction)
        if len(held) < 1 or len(training) < 1:
            continue
        mu = stream.mu.astype(np.float32)
        first = len(training) - 1  # the step whose prediction is the first held-out frame
        states = models.zero_states(model, 1)
        for begin in range(0, len(mu) - 1, chunk):
            end = min(begin + chunk, len(mu) - 1)
            outputs = model([tf.constant(mu[None, begin:end]), *states], training=False)
            states = outputs["states"]
            if end <= first:
                continue
            skip = max(first - begin, 0)
            inputs, target = mu[None, begin + skip:end], tf.constant(mu[None, begin + skip + 1:end + 1])
            predicted = models.expected_next(outputs)[:, skip:]
            sums["mse"] += float(tf.reduce_sum(tf.reduce_mean(tf.square(predicted - target), -1)))
            sums["mse_copy_last"] += float(np.sum(np.mean(np.square(inputs - target.numpy()), -1)))
            if "logits" in outputs:
                mixture = True
                log_p = losses.mixture_log_likelihood(*(outputs[k][:, skip:] for k in
                                                          ("logits", "means", "log_sigmas")), target)
                sums["nll"] += float(tf.reduce_sum(-log_p)) / stream.latent_dim
            count += end - begin - skip
    if count == 0:
        raise errors.ConfigError("no held-out frames to evaluate on: raise data.holdout_fraction")
    figures = {k: v / count for k, v in sums.items()}
    if not mixture:
        figures.pop("nll")
    figures["ratio"] = figures["mse"] / max(figures["mse_copy_last"], 1e-12)
    figures["frames"] = count
    return figures


# ----------------------------------------------------------------------------- restoring


def saved_run(workdir):
    """(config, run facts) of the sequence run in `workdir`; WorkdirError if it is not one."""
    saved = workdirs.load_config(workdir, KIND)
    path = pathlib.Path(workdir) / (workdirs.CONFIG_FILE if saved is None else RUN_FILE)
    try:
        run = json.loads(path.read_text()) if saved is not None else None
    except (OSError, ValueError):
        run = None
    if run is None:
        raise workdirs.WorkdirError(f"{path}: missing or unreadable; give the workdir of a latent-dream run "
                                    "(run_scripts.latent_dream_train)")
    return ml_collections.ConfigDict(saved), run


def restore_model(workdir):
    """(the sequence model from the newest readable checkpoint in `workdir`, its config, run facts)."""
    config, run = saved_run(workdir)
    model = models.build(config.model, run["latent_dim"])
    workdirs.restore(workdir, {"sequence": model}, KIND)
    return model, config, run
