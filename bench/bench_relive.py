"""relive at the seed's sizes: seconds per generator step (5 critic + 1 generator update, batch 16 clips of
32x64x64) for WGAN and WGAN-GP, and per LSTM predictor step (batch 16, 32 frames); prints medians.

    python bench/bench_relive.py [--steps=4] [--only=gp,clip,lstm] [--precisions=auto,float32] [--naive]

1. Our step: the real training loop (relive.train through videocore.loop) on the bundled bikes clip,
   per-step times read back from the TensorBoard event file (median after the first, traced, step),
   under each precision asked for.
2. Baseline, built in the same run (--naive, default on): a straightforward Keras step as one writes
   it from the papers (Keras BatchNormalization, LeakyReLU, Conv3D(Transpose) / Conv2D(Transpose),
   a float32 Keras LSTM, Keras' Adam; real and fake clips scored in separate critic calls; one
   tf.function per generator step), under the auto policy.
Goals on the 2-core dev machine: WGAN-GP <= 4 s, LSTM <= 1.0 s.
Other processes on the machine make every figure slower: say so when quoting them.
"""

import os
import pathlib
import statistics
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from absl import flags  # noqa: E402

from videocore import cli  # noqa: E402  (before TensorFlow loads: it quiets TF's start-up chatter)

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from relive import configs  # noqa: E402
from relive import layers  # noqa: E402
from relive import losses  # noqa: E402
from relive import models  # noqa: E402
from relive import train  # noqa: E402
from videocore import device  # noqa: E402
from videocore import precision  # noqa: E402
from videocore import summaries  # noqa: E402

GOALS = {"gp": 4.0, "lstm": 1.0}
JOBS = {"gp": ("wgan", "gradient"), "clip": ("wgan", "clip"), "lstm": ("predictor", "clip")}
KERAS_OPTIMIZERS = {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop}


class OtherLoad:
    """Measures how much of the machine's CPU time other processes took while the block ran (0 = quiet)."""

    @staticmethod
    def _busy_seconds():
        with open("/proc/stat") as file:
            values = [int(v) for v in file.readline().split()[1:]]
        idle = values[3] + values[4]  # idle + iowait
        return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")

    def __enter__(self):
        self.start = (time.perf_counter(), time.process_time(), self._busy_seconds())
        return self

    def __exit__(self, *exc_info):
        wall, own, busy = (now - then for now, then in zip(
            (time.perf_counter(), time.process_time(), self._busy_seconds()), self.start))
        self.fraction = max(0.0, (busy - own) / (os.cpu_count() * wall))


def bench_config(job, policy):
    model, penalty = JOBS[job]
    config = configs.seed()
    config.model = model
    config.critic.penalty = penalty
    config.data.source = "bundled:bikes"
    config.loop.precision = policy
    config.loop.log_every_steps = 1
    config.loop.sample_every_steps = 0
    config.loop.histogram_every_steps = 0
    config.loop.checkpoint_every_steps = 10**9
    config.loop.checkpoint_every_minutes = 10**6
    return config


def loop_step_times(config, steps):
    """Runs `steps` + 1 loop steps in a temp workdir; returns the step times after the first."""
    config.loop.num_steps = steps + 1
    with tempfile.TemporaryDirectory(prefix="bench_relive_") as workdir:
        train.train_and_evaluate(config, workdir)
        events = summaries.read_back(pathlib.Path(workdir) / "tensorboard", "perf/step_time_s")
        return [float(value) for _, _, value in events][1:]


class _Straightforward:
    """Builds the seed's networks from plain Keras layers (the baseline), restoring relive's afterwards.

    Keras' BatchNormalization and LSTM and plain 3D convolutions are what videocore.device picks for
    a GPU, so building under `device.forced("gpu")` gives them; the CPU-only layers are swapped here.
    """

    NAMES = ("PixelConv3D", "PixelConv3DTranspose", "SmallMapConv2D", "SmallMapConv2DTranspose", "LeakyReLU")

    def __enter__(self):
        self.saved = {name: getattr(layers, name) for name in self.NAMES}
        self.forced = device.forced("gpu")
        self.forced.__enter__()
        layers.PixelConv3D, layers.PixelConv3DTranspose = keras.layers.Conv3D, keras.layers.Conv3DTranspose
        layers.SmallMapConv2D, layers.SmallMapConv2DTranspose = keras.layers.Conv2D, keras.layers.Conv2DTranspose
        layers.LeakyReLU = keras.layers.LeakyReLU
        return self

    def __exit__(self, *exc_info):
        for name, value in self.saved.items():
            setattr(layers, name, value)
        return self.forced.__exit__(*exc_info)


def naive_step_times(job, steps):
    """The straightforward Keras step under the auto policy, on random clips; returns per-step seconds."""
    config = bench_config(job, "auto")
    with precision.policy_scope("auto") as policy:
        batch, frames, size = config.loop.batch_size, config.clip.num_frames, config.clip.frame_size
        with _Straightforward():
            if job == "lstm":
                step, inputs = _naive_predictor_step(config), tf.random.uniform([batch, frames, size, size, 3], -1, 1)
            else:
                step = _naive_gan_step(config)
                inputs = tf.random.uniform([config.critic.steps, batch, frames, size, size, 3], -1, 1)
        inputs = tf.cast(inputs, keras.mixed_precision.global_policy().compute_dtype)
        step(inputs).numpy()  # trace and warm up
        times = []
        for _ in range(steps):
            start = time.perf_counter()
            step(inputs).numpy()
            times.append(time.perf_counter() - start)
        return times, policy


def _naive_gan_step(config):
    generator, critic = models.video_generator(config), models.video_critic(config)
    spec = dict(config.optimizers[config.critic.penalty])
    name = spec.pop("name")
    g_opt, c_opt = (KERAS_OPTIMIZERS[name](**spec) for _ in range(2))
    batch, noise_dim = config.loop.batch_size, config.generator.noise_dim
    gradient_penalty = config.critic.penalty == "gradient"

    @tf.function
    def step(real_batches):
        for index in range(config.critic.steps):
            real = real_batches[index]
            with tf.GradientTape() as tape:
                fake = generator(tf.random.normal([batch, noise_dim]), training=True)
                loss = losses.wasserstein_critic_loss(critic(real, training=True), critic(fake, training=True))
                if gradient_penalty:
                    mixed = losses.interpolate(real, fake, tf.random.uniform([batch]))
                    loss += config.critic.gp_weight * losses.gradient_penalty(lambda x: critic(x, training=True),
                                                                              mixed)
            c_opt.apply_gradients(zip(tape.gradient(loss, critic.trainable_variables), critic.trainable_variables))
        with tf.GradientTape() as tape:
            fake = generator(tf.random.normal([batch, noise_dim]), training=True)
            g_loss = losses.wasserstein_generator_loss(critic(fake, training=True))
        g_opt.apply_gradients(zip(tape.gradient(g_loss, generator.trainable_variables),
                                  generator.trainable_variables))
        return g_loss

    return step


def _naive_predictor_step(config):
    predictor = models.frame_predictor(config)
    spec = dict(config.optimizers.predictor)
    optimizer = KERAS_OPTIMIZERS[spec.pop("name")](**spec)

    @tf.function
    def step(clips):
        with tf.GradientTape() as tape:
            loss = losses.l2_prediction_loss(predictor(clips[:, :-1], training=True), clips[:, 1:])
        optimizer.apply_gradients(zip(tape.gradient(loss, predictor.trainable_variables),
                                      predictor.trainable_variables))
        return loss

    return step


FLAGS = flags.FLAGS
flags.DEFINE_integer("steps", 4, "Timed steps after the traced one.")
flags.DEFINE_string("only", "gp,clip,lstm", "Any of gp (WGAN-GP), clip (WGAN), lstm.")
flags.DEFINE_string("precisions", "auto,float32", "'' to time the baseline only.")
flags.DEFINE_bool("naive", True, "Also time the straightforward Keras baseline (auto policy).")


def main(argv):
    del argv
    args = FLAGS
    rows = []
    for job in args.only.split(","):
        clips_per_step = 16 * (5 if job != "lstm" else 1)
        naive = None
        if args.naive and job in ("gp", "lstm"):
            with OtherLoad() as load:
                times, policy = naive_step_times(job, max(2, args.steps - 1))
            naive = statistics.median(times)
            rows.append((job, f"naive {policy}", naive, clips_per_step / naive, "", load.fraction))
            print(f"{job} naive: {[round(t, 2) for t in times]}", flush=True)
        for asked in [name for name in args.precisions.split(",") if name]:
            with OtherLoad() as load:
                times = loop_step_times(bench_config(job, asked), args.steps)
            median = statistics.median(times)
            ratio = f"{naive / median:.2f}x vs naive" if naive and asked == "auto" else ""
            rows.append((job, f"ours {precision.choose_policy(asked)}", median, clips_per_step / median, ratio,
                         load.fraction))
            print(f"{job} {asked}: {[round(t, 2) for t in times]}", flush=True)
    print(f"\n{'job':6s} {'variant':24s} {'s/step':>8s} {'clips/s':>8s} {'others':>7s}")
    for job, variant, seconds, rate, ratio, others in rows:
        goal = f"goal <= {GOALS[job]} s" if job in GOALS and variant.startswith("ours") else ""
        print(f"{job:6s} {variant:24s} {seconds:8.2f} {rate:8.2f} {others:6.0%}  {ratio} {goal}")
    print("others: share of the machine's CPU time other processes used meanwhile (0% = quiet machine)")
    print("clips/s: real clips consumed per second (5 critic batches of 16 per generator step; 16 for the LSTM)")


if __name__ == "__main__":
    cli.run(main)
