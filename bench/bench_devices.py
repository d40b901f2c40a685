"""Step time of every method on whatever device this is, with the precision and layer variants it chose.

    python bench/bench_devices.py [--steps=6] [--published_sizes] [--methods=vaegan,latent_dream,...] [--refresh_peak]

For the first person with a GPU: run it there and here and compare, method by method. Each training
method runs the real shared loop (`videocore.loop`, precision "auto": mixed_float16 on a GPU with
loss scaling) for --steps steps and reports the median of the per-step times the loop itself writes
to TensorBoard, after two warm-up steps (tracing, kernel selection). DeepDream reports the median
time of one whole frame (octaves x iterations). Small sizes by default (a minute or two on a 2-core
CPU); --published_sizes uses the papers' (VAE-GAN batch 12 at 256x144, 32x64x64 clips, 540x360
DeepDream frames), which take several minutes per method on a CPU. --tiny only checks that
everything starts.

First the machine line (videocore.machine: CPU, ISA, GPU, TensorFlow, oneDNN, compute dtype, measured peak),
then one table row per method: its time, and its analytic FLOPs as GFLOP/s and % of that peak, the figure
that reads alike on any device. FLOPs: vaegan_video.plan.step_flops for the VAE-GAN; DreamNet.flops (the
convolutions, forward + input gradient) for DeepDream; the latent-dream LSTM and relive's steps have no count
yet ("—"). No method has a baseline here, so x baseline stays empty (bench_vaegan, bench_relive and
bench_dream time theirs).
"""

import pathlib
import statistics
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from absl import flags  # noqa: E402

from videocore import cli  # noqa: E402  (before TensorFlow loads: it quiets TF's start-up chatter)

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from deepdream_video import dream  # noqa: E402
from deepdream_video import models as deepdream_models  # noqa: E402
from relive import configs as relive_configs  # noqa: E402
from relive import train as relive_train  # noqa: E402
from vaegan_video import configs as vaegan_configs  # noqa: E402
from vaegan_video import plan as vaegan_plan  # noqa: E402
from vaegan_video import train as vaegan_train  # noqa: E402
from vaegan_video.latent_dream import configs as latent_configs  # noqa: E402
from vaegan_video.latent_dream import latents  # noqa: E402
from vaegan_video.latent_dream import train as latent_train  # noqa: E402
from videocore import device  # noqa: E402
from videocore import loop  # noqa: E402
from videocore import machine  # noqa: E402
from videocore import precision  # noqa: E402
from videocore import summaries  # noqa: E402
from videocore import video  # noqa: E402

METHODS = ("vaegan", "latent_dream", "relive_wgan_gp", "relive_predictor", "deepdream")
WARM_UP = 2

FLAGS = flags.FLAGS
flags.DEFINE_integer("steps", 6, "Timed steps per training method (after the warm-up steps).")
flags.DEFINE_bool("published_sizes", False, "The papers' sizes instead of small ones.")
flags.DEFINE_bool("tiny", False, "The smallest sizes and 1 timed step: checks that every method starts.")
flags.DEFINE_list("methods", list(METHODS), f"Which of {', '.join(METHODS)}.")
flags.DEFINE_string("precision", "auto", "auto | float32 | mixed_bfloat16 | mixed_float16.")
flags.DEFINE_bool("refresh_peak", False, "Measure the machine's peak again instead of reading it from the cache.")


def _timed_loop(config, steps):
    """Sets `config.loop` for a timing run: no samples, no checkpoints, a step-time scalar every step."""
    config.loop.num_steps, config.loop.num_epochs = steps + WARM_UP, 0
    config.loop.precision = FLAGS.precision
    config.loop.log_every_steps = 1
    config.loop.sample_every_steps = 0
    config.loop.checkpoint_every_steps = 10**9
    config.loop.checkpoint_every_minutes = 10**6
    if "histogram_every_steps" in config.loop:
        config.loop.histogram_every_steps = 0
    return config


def _step_times(workdir):
    values = [float(value) for _, _, value in summaries.read_back(workdir / "tensorboard", "perf/step_time_s")]
    return values[WARM_UP:] or values


def vaegan(root, size, steps):
    config = {"tiny": vaegan_configs.tiny, "small": vaegan_configs.quick,
              "published": vaegan_configs.dissertation}[size]()
    config.data.videos = (str(video.sample_clip("bigbuckbunny")),)
    config.data.cache_dir = str(root / "cache")
    _timed_loop(config, steps)
    vaegan_train.train_and_evaluate(config, root / "vaegan", progress=False)
    m = config.model
    return (_step_times(root / "vaegan"), f"batch {config.loop.batch_size} at {m.width}x{m.height}",
            vaegan_plan.step_flops(config))


def latent_dream(root, size, steps):
    config = {"tiny": latent_configs.tiny, "small": latent_configs.quick, "published": latent_configs.default}[size]()
    _timed_loop(config, steps)
    dim = {"tiny": 8, "small": 64, "published": 200}[size]  # the VAE-GAN's latent size
    # A random walk in [-1, 1] stands in for a film's latents: the step time does not depend on their values.
    walk = np.tanh(np.cumsum(np.random.default_rng(0).normal(size=(2000, dim)) * 0.05, axis=0)).astype(np.float32)
    streams = [latents.LatentSequence(mu=walk, log_var=np.full_like(walk, -2.0), fps=25, source="random walk")]
    loop.train(lambda setup: latent_train.SequenceTask(config, setup, streams, 0.0), config, root / "latent")
    return _step_times(root / "latent"), (f"batch {config.loop.batch_size} x {config.train.window} steps, "
                                          f"{config.model.units} units, z of {dim}"), None


def _relive(root, size, steps, model):
    config = {"tiny": relive_configs.quick, "small": relive_configs.demo, "published": relive_configs.seed}[size]()
    config.model = model
    config.critic.penalty = "gradient"
    config.data.source = "bundled:carphone"
    config.data.cache_dir = str(root / "cache")
    _timed_loop(config, steps)
    relive_train.train_and_evaluate(config, root / model)
    clip = config.clip
    return _step_times(root / model), f"batch {config.loop.batch_size} of {clip.num_frames}x{clip.frame_size}^2", None


def relive_wgan_gp(root, size, steps):
    return _relive(root, size, steps, "wgan")


def relive_predictor(root, size, steps):
    return _relive(root, size, steps, "predictor")


def deepdream(root, size, steps):
    del root
    width, height, octaves, iterations = {"tiny": (96, 96, 1, 2), "small": (270, 180, 3, 5),
                                          "published": (540, 360, 4, 5)}[size]
    dtype = {"float32": "float32", "mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}[
        precision.choose_policy(FLAGS.precision)]
    dreamer = dream.Dreamer(deepdream_models.inception_v3("auto"), ["mixed3", "mixed5"], compute_dtype=dtype)
    frame = next(iter(video.read_frames(video.sample_clip("bikes"), size=(width, height))))
    image = frame.astype(np.float32) / 127.5 - 1.0
    shifts = dream.jitter_shifts(np.random.default_rng(0), octaves, iterations, 32)
    times = []
    for _ in range(steps + WARM_UP):
        start = time.perf_counter()
        dreamed, _ = dreamer.dream(image, shifts, learning_rate=0.01)
        dreamed.numpy()  # wait for the result
        times.append(time.perf_counter() - start)
    # The octave sizes Dreamer.dream uses (its default octave_scale); forward + input gradient per iteration.
    sizes = dream.octave_sizes(height, width, octaves, 1.4)
    flops = 2 * iterations * sum(dreamer.net.flops(h, w) for h, w in sizes)
    return times[WARM_UP:], f"one {width}x{height} frame, {octaves} octaves x {iterations} steps", flops


def main(argv):
    del argv
    unknown = set(FLAGS.methods) - set(METHODS)
    if unknown:
        raise flags.ValidationError(f"--methods: unknown {', '.join(sorted(unknown))}; choose from {METHODS}")
    size = "tiny" if FLAGS.tiny else "published" if FLAGS.published_sizes else "small"
    steps = 1 if FLAGS.tiny else FLAGS.steps
    policy = precision.choose_policy(FLAGS.precision)
    info = machine.describe()
    peak = machine.measure_peak(info.policy, info=info, refresh=FLAGS.refresh_peak)
    print(machine.header_line(info, peak), flush=True)
    choices = device.choices()
    gpus = tf.config.list_physical_devices("GPU")
    print(f"device: {precision.describe_device(policy)}; {len(gpus)} GPU(s)")
    print(f"layer variants ({choices.device}): cuDNN LSTM {choices.cudnn_lstm}, plain 3D convs {choices.plain_conv3d}, "
          f"Keras BatchNorm {choices.keras_batch_norm}, XLA train step {choices.jit_compile}")
    rows = []
    with tempfile.TemporaryDirectory() as root:
        for name in FLAGS.methods:
            with machine.OtherLoad() as load:
                times, what, flops = globals()[name](pathlib.Path(root), size, steps)
            median = statistics.median(times)
            rows.append(machine.row(f"{name}, {what}", median, flops, peak,
                                    extra=(policy, len(times), f"{load.fraction:.0%}")))
            print(f"{name}: {[round(t, 3) for t in times]} s/step", flush=True)
    print(f"\nmedian time per step (DeepDream: per frame) after {WARM_UP} warm-up steps:")
    print(machine.table_header("dtype", "steps", "others"))
    print("\n".join(rows))
    print(f"% of peak: of the {peak.policy} peak on the machine line, whatever dtype a row ran in; others: share "
          "of the CPUs other processes used meanwhile (0% = quiet machine)")


if __name__ == "__main__":
    cli.run(main)
