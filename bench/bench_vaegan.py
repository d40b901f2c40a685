"""VAE-GAN at the dissertation's size: training step time and reconstruction throughput; prints medians.

    python bench/bench_vaegan.py [--steps=12] [--naive_steps=5] [--refresh_peak]
    python bench/bench_vaegan.py --presets=tiny,quick,dissertation_small,vae_mlp --xla=both [--precision=float32]

First the machine line (videocore.machine: CPU, ISA, TensorFlow, oneDNN, compute dtype, measured peak), then
each workload as a table row: time, analytic FLOPs per step (vaegan_video.plan.step_flops) as GFLOP/s and % of
that peak, and the ratio against the straightforward baseline. With --presets, only the step time of each
named preset at its own size (same run, same clip), with its overhead (the step time minus its FLOPs at the
peak), under XLA off / on (--xla) and optionally another precision.

1. Our step: the real training loop (auto precision) on batches of 12 frames of 256x144, its
   per-step times read back from the TensorBoard event file (median after warm-up).
2. Baseline, built in the same run: a straightforward float32 Keras step (one tf.function, three
   tapes, three Adam optimizers), as one would write it from the paper.
3. Reconstruction end to end (decode the bundled 720p clip -> encode/decode -> H.264 with audio); its
   FLOPs count the networks only (plan.reconstruction_flops_per_frame), its time everything, start-up
   (restoring the networks, tracing) included; then each stage alone (decode, crop + resize, model,
   encode, audio), which names the bottleneck.
Goals, as shares of the measured peak: the training step >= 60 % (5x5 convolutions are ~99 % of its FLOPs);
reconstruction end to end >= 25 % (the rest of its time is decoding, resizing and H.264).
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

from videocore import machine  # noqa: E402
from videocore import precision  # noqa: E402
from videocore import summaries  # noqa: E402
from videocore import video  # noqa: E402
from vaegan_video import configs  # noqa: E402
from vaegan_video import losses  # noqa: E402
from vaegan_video import models  # noqa: E402
from vaegan_video import plan  # noqa: E402
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


def _per_frame(function, frames):
    """Seconds per frame of `function()`, which handles `frames` frames."""
    start = time.perf_counter()
    function()
    return (time.perf_counter() - start) / frames


def reconstruction_stages(config, workdir):
    """Seconds per frame of each stage of the 720p -> 256x144 reconstruction, run one at a time on the
    bundled clip: decode (PyAV, no conversion), crop + resize + RGB (read_frames minus decode), the model
    (reconstruct.Autoencoder on batches already in memory), H.264 encode (VideoWriter, no audio) and the
    audio copy (the same with the soundtrack, minus encode). {stage: seconds per frame}, frame count."""
    import av  # noqa: PLC0415

    source = video.sample_clip("bigbuckbunny")
    size = (config.model.width, config.model.height)

    def decode_only():
        with av.open(str(source)) as container:
            for _ in container.decode(video=0):
                pass

    frames = np.stack(list(video.read_frames(source, aspect="16:9", size=size)))
    count = len(frames)
    stages = {"decode": _per_frame(decode_only, count)}
    stages["crop, resize, RGB"] = max(0.0, _per_frame(
        lambda: sum(1 for _ in video.read_frames(source, aspect="16:9", size=size)), count) - stages["decode"])
    model = reconstruct.Autoencoder(config, workdir)
    batch = config.reconstruct.batch_size
    model(frames[:batch]).numpy()  # trace
    outputs = []
    stages["model (Enc + Dec)"] = _per_frame(
        lambda: outputs.extend(model(frames[i:i + batch]).numpy() for i in range(0, count, batch)), count)
    fps = video.probe(source).fps
    with tempfile.TemporaryDirectory() as out:
        def write(audio):
            with video.VideoWriter(pathlib.Path(out) / f"a{audio}.mp4", fps,
                                   audio_source=source if audio else None) as writer:
                for chunk in outputs:
                    writer.write(chunk)
        stages["H.264 encode"] = _per_frame(lambda: write(False), count)
        stages["audio copy + mux"] = max(0.0, _per_frame(lambda: write(True), count) - stages["H.264 encode"])
    return stages, count


FLAGS = flags.FLAGS
flags.DEFINE_integer("steps", 12, "Timed steps of our loop.")
flags.DEFINE_integer("naive_steps", 5, "Timed steps of the straightforward Keras step.")
flags.DEFINE_integer("repeats", 3, "Timed reconstruction runs.")
flags.DEFINE_list("presets", [], "Time only these vaegan_video/configs.py presets' training steps, one after another.")
flags.DEFINE_enum("xla", "off", ["off", "on", "both"], "With --presets: the train step under XLA (jit_compile).")
flags.DEFINE_string("precision", "", "With --presets: this precision instead of each preset's (e.g. float32).")
flags.DEFINE_bool("refresh_peak", False, "Measure the machine's peak again instead of reading it from the cache.")

GOALS = {"step": 60.0, "reconstruction": 25.0}  # % of the measured peak
XLA_MODES = {"off": (False,), "on": (True,), "both": (False, True)}  # --xla -> config.loop.jit_compile values


def preset_step_times(names, steps, root, peak, xla_modes):
    """Each preset's median step time on its own model, batch and precision (the bundled 720p clip), with
    its overhead: the step time minus the analytic FLOPs at the measured peak (dispatch, memory-bound ops,
    optimizer updates, convolutions below the peak; the timed step excludes fetching the batch)."""
    clip = str(video.sample_clip("bigbuckbunny"))
    rows = []
    for name in names:
        for xla in xla_modes:
            config = configs.get_config(name)
            config.data.videos = (clip,)
            config.data.cache_dir = str(root / "cache")
            config.loop.jit_compile = xla
            if FLAGS.precision:
                config.loop.precision = FLAGS.precision
            with machine.OtherLoad() as load:
                times = loop_step_times(config, root / f"{name}_{xla}", steps)
            median = statistics.median(times)
            flops = plan.step_flops(config)
            overhead = max(0.0, median - flops / peak.flops_per_second)
            rows.append(machine.row(
                f"{name} {config.model.width}x{config.model.height}, batch {config.loop.batch_size}, "
                f"{precision.choose_policy(config.loop.precision)}, XLA {'on' if xla else 'off'}", median, flops, peak,
                extra=(f"{flops / 1e9:,.3g}", f"{overhead * 1e3:,.0f} ms ({overhead / median:.0%})",
                       f"{config.loop.batch_size / median:.2f}", f"{load.fraction:.0%}")))
    print(f"\ntraining step per preset ({steps} steps each, median after the first 2; "
          f"FLOPs: vaegan_video.plan.step_flops; overhead: step time - FLOPs / measured peak):")
    print(machine.table_header("GFLOP / step", "overhead (share)", "frames/s", "others"))
    print("\n".join(rows))
    print(_notes(peak))


def _notes(peak):
    return (f"% of peak: of the {peak.policy} peak on the machine line, whatever dtype a row ran in; "
            f"others: share of the CPUs other processes used meanwhile (0% = quiet machine)")


def main(argv):
    del argv
    args = FLAGS
    info = machine.describe()
    peak = machine.measure_peak(info.policy, info=info, refresh=args.refresh_peak)
    print(machine.header_line(info, peak), flush=True)
    with tempfile.TemporaryDirectory() as root:
        root = pathlib.Path(root)
        if args.presets:
            preset_step_times(args.presets, args.steps, root, peak, XLA_MODES[args.xla])
            return
        config = configs.dissertation()
        config.data.videos = (str(video.sample_clip("bigbuckbunny")),)
        config.data.cache_dir = str(root / "cache")
        with machine.OtherLoad() as ours_load:
            ours = loop_step_times(config, root / "work", args.steps)
        ours_median = statistics.median(ours)
        with machine.OtherLoad() as naive_load:
            naive = statistics.median(naive_step_times(configs.dissertation(), args.naive_steps))
        flops, batch = plan.step_flops(config), config.loop.batch_size
        print(f"\nVAE-GAN training step, batch {batch} at {config.model.width}x{config.model.height}, "
              f"{flops / 1e9:,.0f} GFLOP per step (vaegan_video.plan.step_flops):")
        print(machine.table_header("frames/s", "others"))
        ours_name = f"ours ({precision.choose_policy(config.loop.precision)}, shared loop), median of {len(ours)}"
        print(machine.row(ours_name, ours_median, flops, peak, naive,
                          extra=(f"{batch / ours_median:.1f}", f"{ours_load.fraction:.0%}")))
        print(machine.row(f"straightforward float32 Keras step, median of {args.naive_steps}", naive, flops, peak,
                          naive, extra=(f"{batch / naive:.1f}", f"{naive_load.fraction:.0%}")))
        print(f"goal: ours >= {GOALS['step']:.0f} % of the measured peak")
        with machine.OtherLoad() as load:
            rate, frames = reconstruction_rate(configs.dissertation(), root / "work", args.repeats)
        per_frame = plan.reconstruction_flops_per_frame(config.model)
        print(f"\nreconstruction end to end (720p decode -> encode/decode at 256x144 -> H.264 + audio), {frames} "
              f"frames, per frame ({per_frame / 1e9:,.1f} GFLOP: the networks' FLOPs only, the time is everything):")
        print(machine.table_header("frames/s", "others"))
        print(machine.row(f"reconstruction, median of {args.repeats}", 1 / rate, per_frame, peak,
                          extra=(f"{rate:.1f}", f"{load.fraction:.0%}")))
        print(f"goal: >= {GOALS['reconstruction']:.0f} % of the measured peak")
        with machine.OtherLoad() as load:
            stages, frames = reconstruction_stages(configs.dissertation(), root / "work")
        print(f"\nreconstruction per stage, one at a time ({frames} frames; others {load.fraction:.0%}):")
        print("| stage | ms per frame | share of the stages |\n|---|---:|---:|")
        whole = sum(stages.values())
        for stage, seconds in stages.items():
            print(f"| {stage} | {seconds * 1e3:.2f} | {seconds / whole:.0%} |")
        print(f"| all stages | {whole * 1e3:.2f} | (end to end above: {1e3 / rate:.2f}) |")
        print(_notes(peak))


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    cli.run(main)
