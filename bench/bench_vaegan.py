"""VAE-GAN at the dissertation's size: training step time and reconstruction throughput; prints medians.

    python bench/bench_vaegan.py [--steps=12] [--naive_steps=5]
    python bench/bench_vaegan.py --presets=dissertation,released_code,blade_runner,scanner_darkly --steps=5

With --presets, only the step time of each named preset at its own size (same run, same clip) is printed.

1. Our step: the real training loop (auto precision) on batches of 12 frames of 256x144, its
   per-step times read back from the TensorBoard event file (median after warm-up).
2. Baseline, built in the same run: a straightforward float32 Keras step (one tf.function, three
   tapes, three Adam optimizers), as one would write it from the paper.
3. Reconstruction end to end (decode the bundled 720p clip -> encode/decode -> H.264 with audio).
Goals on the 2-core dev machine: <= 1.0 s per training step, >= 200 frames/s reconstruction.
"""

import pathlib
import statistics
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from absl import flags  # noqa: E402

from videocore import cli  # noqa: E402  (before TensorFlow loads: it quiets TF's start-up chatter)

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from videocore import summaries  # noqa: E402
from videocore import video  # noqa: E402
from vaegan_video import configs  # noqa: E402
from vaegan_video import losses  # noqa: E402
from vaegan_video import models  # noqa: E402
from vaegan_video import reconstruct  # noqa: E402
from vaegan_video import train  # noqa: E402



def naive_step_times(config, steps):
    """A straightforward float32 Keras implementation of one step of Algorithm 1."""
    keras.mixed_precision.set_global_policy("float32")
    nets = models.build(config)
    enc, dec, dis = nets["encoder"], nets["decoder"], nets["discriminator"]
    optimizers = [keras.optimizers.Adam(2e-4, beta_1=0.5) for _ in range(3)]
    batch, latent = config.loop.batch_size, config.model.latent_dim

    @tf.function
    def step(x):
        eps = tf.random.normal((batch, latent)) * 0.25
        z_p = tf.random.normal((batch, latent))
        with tf.GradientTape() as enc_tape, tf.GradientTape() as dec_tape, tf.GradientTape() as dis_tape:
            mu, log_var = enc(x, training=True)
            x_bar = dec(mu + tf.exp(0.5 * log_var) * eps, training=True)
            x_p = dec(z_p, training=True)
            *f_real, d_real = dis(x, training=True)
            *f_bar, d_bar = dis(x_bar, training=True)
            d_p = dis(x_p, training=True)[-1]
            kl = losses.kl_divergence(mu, log_var)
            like = losses.learned_similarity(f_real, f_bar)
            gan = losses.gan_loss(d_real, d_bar, d_p)
            enc_loss, dec_loss = kl + like, 2.5 * like - gan
        for tape, loss, net, opt in ((enc_tape, enc_loss, enc, optimizers[0]), (dec_tape, dec_loss, dec, optimizers[1]),
                                     (dis_tape, gan, dis, optimizers[2])):
            opt.apply_gradients(zip(tape.gradient(loss, net.trainable_variables), net.trainable_variables))
        return gan

    x = tf.random.uniform((batch, config.model.height, config.model.width, 3), -1, 1)
    step(x).numpy()  # trace and warm up
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step(x).numpy()
        times.append(time.perf_counter() - start)
    return times


def loop_step_times(config, workdir, steps):
    config.loop.num_steps, config.loop.num_epochs = steps, 0
    config.loop.log_every_steps = 1
    config.loop.sample_every_steps = 0
    config.loop.checkpoint_every_steps = 10**9
    config.loop.checkpoint_every_minutes = 10**6
    train.train_and_evaluate(config, workdir, progress=False)
    values = [float(value) for _, _, value in summaries.read_back(workdir / "tensorboard", "perf/step_time_s")]
    return values[2:]  # the first steps include tracing and oneDNN's kernel selection


def reconstruction_rate(config, workdir, repeats):
    source = video.sample_clip("bigbuckbunny")
    rates = []
    with tempfile.TemporaryDirectory() as out:
        for i in range(repeats):
            start = time.perf_counter()
            info = reconstruct.reconstruct(config, workdir, source, pathlib.Path(out) / f"r{i}.mp4", progress=False)
            rates.append(info.frame_count / (time.perf_counter() - start))
    return statistics.median(rates), info.frame_count


FLAGS = flags.FLAGS
flags.DEFINE_integer("steps", 12, "Timed steps of our loop.")
flags.DEFINE_integer("naive_steps", 5, "Timed steps of the straightforward Keras step.")
flags.DEFINE_integer("repeats", 3, "Timed reconstruction runs.")
flags.DEFINE_list("presets", [], "Time only these vaegan_video/configs.py presets' training steps, one after another.")


def preset_step_times(names, steps, root):
    """Median step time (and frames/s) of each preset's own model, batch and precision, on the bundled 720p clip."""
    clip = str(video.sample_clip("bigbuckbunny"))
    print(f"training step per preset ({steps} steps each, median after the first 2):")
    for name in names:
        config = configs.get_config(name)
        config.data.videos = (clip,)
        config.data.cache_dir = str(root / "cache")
        times = loop_step_times(config, root / name, steps)
        median = statistics.median(times)
        print(f"  {name:<16} {config.model.width}x{config.model.height}, batch {config.loop.batch_size}: "
              f"{median:.2f} s/step -> {config.loop.batch_size / median:.2f} frames/s")


def main(argv):
    del argv
    args = FLAGS
    with tempfile.TemporaryDirectory() as root:
        root = pathlib.Path(root)
        if args.presets:
            preset_step_times(args.presets, args.steps, root)
            return
        config = configs.dissertation()
        config.data.videos = (str(video.sample_clip("bigbuckbunny")),)
        config.data.cache_dir = str(root / "cache")
        ours = loop_step_times(config, root / "work", args.steps)
        ours_median = statistics.median(ours)
        naive = statistics.median(naive_step_times(configs.dissertation(), args.naive_steps))
        print("VAE-GAN training step, batch 12 at 256x144:")
        print(f"  ours ({config.loop.precision} policy, shared loop): {ours_median:.3f} s median of {len(ours)} "
              f"-> {12 / ours_median:.1f} frames/s")
        print(f"  straightforward float32 Keras step: {naive:.3f} s median of {args.naive_steps} "
              f"-> {12 / naive:.1f} frames/s")
        print(f"  speed-up x{naive / ours_median:.2f} (goal: <= 1.0 s per step)")
        rate, frames = reconstruction_rate(configs.dissertation(), root / "work", args.repeats)
        print(f"reconstruction end to end (720p decode -> encode/decode at 256x144 -> H.264 + audio), {frames} frames: "
              f"{rate:.1f} frames/s median of {args.repeats} (goal >= 200)")


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    cli.run(main)
