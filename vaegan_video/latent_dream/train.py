"""Training the latent sequence model on the shared loop: truncated BPTT with the LSTM state carried over."""

import json
import pathlib

import keras
import ml_collections
import numpy as np
import tensorflow as tf

from videocore import errors
from videocore import loop
from videocore import summaries
from vaegan_video.latent_dream import latents
from vaegan_video.latent_dream import models
from vaegan_video.latent_dream import losses
from vaegan_video.latent_dream import input_pipeline

CONFIG_FILE = "config.json"
RUN_FILE = "sequence.json"  # facts resolved at training time: latent size, z noise, frame rate, latents
EVAL_FILE = "evaluation.json"


class SequenceTask:
    """The sequence model, its Adam optimizer, the carried LSTM state and one truncated-BPTT step.

    `state` holds one (lanes, units) variable per LSTM state tensor: row b is the state lane b
    ended its last window with. It is checkpointed with the run, so a resumed run carries on.
    """

    def __init__(self, config, setup, streams, z_noise, codec=None):
        self.config = config
        self.streams = streams
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
        with tf.GradientTape() as tape:
            outputs = self.model([batch["inputs"], *initial], training=True)
            value = losses.loss(outputs, batch["targets"], batch["mask"])
        ctx.minimize(tape, value, "sequence", clip_value=self.config.optimizer.clip_value or None)
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
        return {"real_over_dream": summaries.image_grid(frames, columns=len(rolled))[None]}


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
    on the held-out frames against copying the last latent). Returns the loop's Result.
    """
    workdir = pathlib.Path(workdir)
    if not 0 <= config.data.holdout_fraction < 1:
        raise errors.ConfigError(f"data.holdout_fraction={config.data.holdout_fraction} must be in [0, 1)")
    try:
        models.check_config(config.model)
    except ValueError as error:
        raise errors.ConfigError(str(error)) from None
    codec, streams = load_latents(config, progress=progress)
    check_run_matches(workdir, codec.latent_dim, config)
    training = [stream.split(config.data.holdout_fraction)[0] for stream in streams]
    z_noise = resolve_z_noise(config, codec)
    input_pipeline.Layout(tuple(len(s) for s in training), lanes=config.loop.batch_size,
                         window=config.train.window, shift_windows=config.data.shift_windows)  # too short: say so now
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / CONFIG_FILE).write_text(config.to_json_best_effort(indent=1))
    run = {"latent_dim": codec.latent_dim, "z_noise": z_noise, "fps": str(streams[0].fps),
           "vaegan_workdir": str(pathlib.Path(config.vaegan_workdir).resolve()),
           "videos": [s.source for s in streams], "latents": [str(s.path) for s in streams]}
    (workdir / RUN_FILE).write_text(json.dumps(run, indent=1))
    result = loop.train(lambda setup: SequenceTask(config, setup, training, z_noise, codec), config, workdir)
    if config.data.holdout_fraction > 0:
        figures = evaluate(result.task.model, streams, config.data.holdout_fraction)
        (workdir / EVAL_FILE).write_text(json.dumps(figures, indent=1))
        writer = summaries.Writer(workdir / "tensorboard")
        writer.scalars(result.step, {f"heldout/{k}": v for k, v in figures.items() if isinstance(v, float)})
        writer.close()
    return result


def check_run_matches(workdir, latent_dim, config):
    """CheckpointError when `workdir` holds a run over another latent size or model shape."""
    path = pathlib.Path(workdir) / RUN_FILE
    if config.loop.restart or not path.is_file():
        return
    saved = json.loads(path.read_text())
    saved_model = json.loads((pathlib.Path(workdir) / CONFIG_FILE).read_text())["model"]
    keys = ("units", "num_layers", "head", "num_mixtures", "residual")
    problems = [f"latent_dim {saved['latent_dim']} (checkpoint) vs {latent_dim} (VAE-GAN)"] \
        if saved["latent_dim"] != latent_dim else []
    problems += [f"model.{k} {saved_model[k]} (checkpoint) vs {config.model[k]} (config)"
                 for k in keys if saved_model[k] != config.model[k]]
    if problems and tf.train.latest_checkpoint(str(pathlib.Path(workdir) / "checkpoints")):
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
    """(config, run facts) of the sequence run in `workdir`; CheckpointError if it is not one."""
    workdir = pathlib.Path(workdir)
    try:
        config = ml_collections.ConfigDict(json.loads((workdir / CONFIG_FILE).read_text()))
        run = json.loads((workdir / RUN_FILE).read_text())
    except FileNotFoundError as error:
        raise errors.CheckpointError(f"{error.filename}: missing; give the workdir of a sequence model run "
                                     "(run_scripts.latent_dream_train)") from None
    return config, run


def restore_model(workdir):
    """(the sequence model from the newest checkpoint in `workdir`, its config, run facts)."""
    workdir = pathlib.Path(workdir)
    config, run = saved_run(workdir)
    model = models.build(config.model, run["latent_dim"])
    latest = tf.train.latest_checkpoint(str(workdir / "checkpoints"))
    if latest is None:
        raise errors.CheckpointError(f"{workdir / 'checkpoints'}: no checkpoint; train first with "
                                     "run_scripts.latent_dream_train")
    try:
        tf.train.Checkpoint(networks={"sequence": model}).restore(latest).expect_partial() \
            .assert_existing_objects_matched()
    except (ValueError, AssertionError, tf.errors.OpError) as error:
        raise errors.CheckpointError(f"{latest}: does not fit the model ({str(error).splitlines()[0][:200]})") \
            from None
    return model, config, run
