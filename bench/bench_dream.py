"""DeepDream speed: one 540x360 frame, 4 octaves x 5 iterations, layers mixed3 + mixed5, real weights.

Prints first the machine line (videocore.machine: CPU, ISA, TensorFlow, oneDNN, compute dtype, measured
peak), then each variant as a table row: seconds per frame (median), GFLOP/s and % of that peak from the
convolutions' FLOPs counted from the layer shapes (DreamNet.flops, forward + input gradient, every octave
and iteration), and the ratio against a straightforward float32 loop built here in the same run: the
Keras model cut at the dream layers, one `tf.function` gradient step with input_signature [None, None, 3]
(as in the TensorFlow DeepDream tutorial), octaves, jitter and steps in Python. "ours" is
`dream.Dreamer`: the whole frame in one graph traced for its size, on `models.DreamNet` (BN folded plus
the rewrites its docstring lists; "BN folded only" leaves those out). Then the seam figures of a film
dreamed in 2 shards (warping error of the frame pairs across the seam vs within the shards, and the same
pairs of a single run), and as rows without a FLOP count ("—": loading, tracing, decoding, optical flow
and encoding are much of them) the time to the first dreamed frame of a fresh run (weights, tracing and
encoding included) and the end-to-end frames/s of a whole `flow` run (decode, flow, dream, encode) on a
bundled clip. Other jobs on the machine make figures noisy: read medians, and the "others" column (the
share of the CPUs other processes used meanwhile).
Goal, as a share of the measured peak: ours bfloat16 >= 50 % at 540x360 (the input gradient of a conv is
a conv of the same FLOPs, so the peak's conv forward + backward is the yardstick).

    python bench/bench_dream.py [--repeats=5] [--skip_video] [--tiny] [--refresh_peak]
"""
import os
import pathlib
import statistics
import sys
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf
from absl import app
from absl import flags

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from deepdream_video import configs  # noqa: E402
from deepdream_video import dream  # noqa: E402
from deepdream_video import models  # noqa: E402
from deepdream_video import modes  # noqa: E402
from deepdream_video import shards  # noqa: E402
from deepdream_video import video as dream_video_lib  # noqa: E402
from videocore import machine  # noqa: E402
from videocore import video  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("repeats", 5, "Timed frames per variant (after one warm-up frame).")
flags.DEFINE_bool("skip_video", False, "Skip the end-to-end flow-mode run.")
flags.DEFINE_bool("tiny", False, "Check the benchmark runs: tiny frames, 1 repeat, no timing worth reading.")
flags.DEFINE_bool("refresh_peak", False, "Measure the machine's peak again instead of reading it from the cache.")

LAYERS = ("mixed3", "mixed5")
OBJECTIVE = configs.default().objective  # what a run dreams with (l2), in every variant compared
SIZE = (540, 360)
NUM_OCTAVES, NUM_ITERATIONS, OCTAVE_SCALE, JITTER, LEARNING_RATE = 4, 5, 1.4, 32, 1.5 / 127.5
GOAL = 50.0  # % of the measured peak, ours bfloat16 at 540x360


class StraightforwardDream:
    """The tutorial's way: Keras model, one traced gradient step for all sizes, a Python loop."""

    def __init__(self, model):
        self.model = keras.Model(model.input, [model.get_layer(name).output for name in LAYERS])

    @tf.function(input_signature=[tf.TensorSpec([None, None, 3], tf.float32)])
    def gradient(self, image):
        with tf.GradientTape() as tape:
            tape.watch(image)
            activations = self.model(image[None])
            # The configured objective (l2: the mean of half the squared activation, as dream.dream_objective).
            loss = tf.add_n([tf.reduce_mean(0.5 * tf.square(a) if OBJECTIVE == "l2" else a) for a in activations])
        return tape.gradient(loss, image)

    def dream(self, image, shifts):
        image = tf.constant(image)
        sizes = dream.octave_sizes(image.shape[0], image.shape[1], NUM_OCTAVES, OCTAVE_SCALE)
        detail = tf.zeros(sizes[0] + (3,))
        for octave, size in enumerate(sizes):
            base = image if octave == len(sizes) - 1 else tf.image.resize(image, size, antialias=True)
            src = base + tf.image.resize(detail, size)
            for step in range(NUM_ITERATIONS):
                shift = shifts[octave, step]
                gradient = tf.roll(self.gradient(tf.roll(src, shift, axis=[0, 1])), -shift, axis=[0, 1])
                gradient /= tf.reduce_mean(tf.abs(gradient)) + 1e-8
                src = tf.clip_by_value(src + LEARNING_RATE * gradient, -1.0, 1.0)
            detail = src - base
        return tf.clip_by_value(image + detail, -1.0, 1.0).numpy()


def time_interleaved(functions, repeats):
    """{name: (first call s, median wall s, median CPU s)}; the variants take turns frame by frame so
    that load from other processes falls on all of them alike."""
    first = {}
    for name, function in functions.items():
        began = time.perf_counter()
        function()
        first[name] = time.perf_counter() - began
    walls = {name: [] for name in functions}
    cpus = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            began, began_cpu = time.perf_counter(), time.process_time()
            function()
            walls[name].append(time.perf_counter() - began)
            cpus[name].append(time.process_time() - began_cpu)
    return {name: (first[name], statistics.median(walls[name]), statistics.median(cpus[name])) for name in functions}


def time_to_first_frame(clip, size):
    """Seconds from calling `dream_video` on the default preset (in a process where nothing is traced
    yet for this size) until a one-frame video is written: weights, tracing, one frame, encoding."""
    config = configs.default()
    config.size, config.end, config.warping_error = f"{size[0]}x{size[1]}", 0.04, False
    with tempfile.TemporaryDirectory() as folder:
        began = time.perf_counter()
        dream_video_lib.dream_video(config, clip, pathlib.Path(folder) / "first.mp4", progress=False)
        return time.perf_counter() - began


def seam_figures(clip, size, seconds, warmup):
    """(seam error, within-shard error, single run at the same pairs) of a flow run dreamed in 2
    shards and joined, warping errors as in videocore.metrics."""
    config = configs.tiny()
    config.size, config.start, config.end, config.warmup = f"{size[0]}x{size[1]}", 1.0, 1.0 + seconds, warmup
    config.warping_error = False
    with tempfile.TemporaryDirectory() as folder:
        folder = pathlib.Path(folder)
        single = dream_video_lib.dream_video(config, clip, folder / "single.mp4", progress=False)
        seam = None
        for index in (0, 1):
            config.shard = f"{index}/2"
            result = dream_video_lib.dream_video(config, clip, folder / "film.mp4", progress=False)
            seam = seam or result.frames
        shards.merge(folder / "film.mp4", progress=False)
        span = dict(start=config.start, end=config.end)
        at_seam, within = shards.seam_warping_errors(folder / "film.mp4", clip, [seam], **span)
        single_at_seam, single_within = shards.seam_warping_errors(folder / "single.mp4", clip, [seam], **span)
    return at_seam, within, single_at_seam, single_within, single.frames, seam


def main(argv):
    del argv
    global SIZE, NUM_OCTAVES
    if FLAGS.tiny:
        SIZE, NUM_OCTAVES, FLAGS.repeats, FLAGS.skip_video = (160, 96), 2, 1, True
    info = machine.describe()
    peak = machine.measure_peak(info.policy, info=info, refresh=FLAGS.refresh_peak)
    print(machine.header_line(info, peak), flush=True)
    clip = video.sample_clip("bigbuckbunny")
    first_size = (160, 96) if FLAGS.tiny else (384, 216)
    with machine.OtherLoad() as first_load:
        first_seconds = time_to_first_frame(clip, first_size)
    frame = list(video.read_frames(clip, start=2.4, end=2.45, size=SIZE))[0]
    image = modes.to_float(frame)
    shifts = dream.jitter_shifts(np.random.default_rng(0), NUM_OCTAVES, NUM_ITERATIONS, JITTER)
    model = models.inception_v3("auto")
    sizes = dream.octave_sizes(SIZE[1], SIZE[0], NUM_OCTAVES, OCTAVE_SCALE)
    net = models.DreamNet(model, LAYERS)
    flops = 2 * NUM_ITERATIONS * sum(net.flops(h, w) for h, w in sizes)

    baseline = StraightforwardDream(model)
    dreamers = {dtype: dream.Dreamer(model, LAYERS, objective=OBJECTIVE, compute_dtype=dtype)
                for dtype in ("float32", "bfloat16")}
    # The same with BN folded but without the other graph rewrites (models.py), to show their share.
    dreamers["bfloat16 fold only"] = dream.Dreamer(model, LAYERS, objective=OBJECTIVE, compute_dtype="bfloat16")
    dreamers["bfloat16 fold only"].net = models.DreamNet(model, LAYERS, "bfloat16", merge_pointwise=False,
                                                         forward_gradients=False, pool_after_pointwise=False)

    def ours(dtype):
        return lambda: dreamers[dtype].dream(image, shifts, LEARNING_RATE, OCTAVE_SCALE)[0].numpy()

    names = {"straightforward float32": lambda: baseline.dream(image, shifts),
             "ours float32": ours("float32"),
             "ours bfloat16, BN folded only": ours("bfloat16 fold only"),
             "ours bfloat16": ours("bfloat16")}
    load_average = os.getloadavg()[0]
    with machine.OtherLoad() as load:
        results = time_interleaved(names, FLAGS.repeats)
    cores = os.cpu_count()
    print(f"\none frame {SIZE[0]}x{SIZE[1]}, octaves {sizes}, {NUM_ITERATIONS} iterations, layers "
          f"{'+'.join(LAYERS)}, {flops / 1e9:.0f} GFLOP (convolutions, forward + input gradient, from the layer "
          f"shapes); median of {FLAGS.repeats}, the variants taking turns (load average before timing "
          f"{load_average:.1f} on {cores} cores):")
    print(machine.table_header("first call", "CPU s", "others"))
    base_seconds = results["straightforward float32"][1]
    for name, (first, median, cpu) in results.items():
        label = name + (" (baseline)" if name == "straightforward float32" else "")
        print(machine.row(label, median, flops, peak, base_seconds,
                          extra=(f"{first:.2f} s", f"{cpu:.2f}", f"{load.fraction:.0%}")))
    share = machine.percent_of_peak(results["ours bfloat16"][1], flops, peak)
    print(f"goal: ours bfloat16 >= {GOAL:.0f} % of the measured peak: {'met' if share >= GOAL else 'NOT met'} "
          f"({share:.1f} %{', at the --tiny size' if FLAGS.tiny else ''}); % of peak: of the {peak.policy} peak on "
          "the machine line, whatever dtype a row ran in; others: share of the CPUs other processes used meanwhile")

    # Gradient ascent through ReLUs and max pools is chaotic: a change of 1e-3 grey levels in
    # the input moves the dream by about as much as another implementation does. That is the
    # floor any "same result" comparison can reach.
    reference = baseline.dream(image, shifts)
    nudged = baseline.dream(image + np.float32(1e-5), shifts)
    floor = np.abs(nudged - reference).mean() / 2 * 255
    strength = np.abs(reference - image).mean() / 2 * 255
    print(f"the dream changes the frame by {strength:.2f} grey levels on average; the straightforward loop "
          f"run on the frame + 0.001 grey levels differs from itself by {floor:.2f}")
    def objective(dreamed):  # mixed3 + mixed5, the configured objective, float32
        return float(dreamers["float32"].gradient(dreamed)[0])

    print(f"objective: source {objective(image):.3f}, straightforward dream {objective(reference):.3f}")
    for dtype in ("float32", "bfloat16"):
        dreamed = ours(dtype)()
        difference = np.abs(dreamed - reference).mean() / 2 * 255
        print(f"ours {dtype}: objective {objective(dreamed):.3f}, mean |difference| from the straightforward "
              f"dream {difference:.2f} grey levels")

    seam, within, single_seam, single_within, frames, first = seam_figures(
        clip, (96, 64) if FLAGS.tiny else (192, 108), 0.48 if FLAGS.tiny else 2.0, 10)
    print(f"\n2 shards of a {frames}-frame flow run joined (seam before frame {first}, warm-up 10): warping error "
          f"across the seam {seam:.4f}, within shards {within:.4f}; a single run: {single_seam:.4f} at the "
          f"same pair, {single_within:.4f} elsewhere")

    rows = [machine.row(f"time to the first frame of a fresh default-preset run at {first_size[0]}x{first_size[1]} "
                        "(weights, tracing of every scheduled layer, one frame, encoding)", first_seconds, None, peak,
                        extra=("", f"{first_load.fraction:.0%}"))]
    if not FLAGS.skip_video:
        config = configs.flow()
        config.size = "540x304"
        config.warping_error = False
        with tempfile.TemporaryDirectory() as folder, machine.OtherLoad() as load:
            began = time.perf_counter()
            result = dream_video_lib.dream_video(config, clip, pathlib.Path(folder) / "flow.mp4", progress=False)
            wall = time.perf_counter() - began
        rows.append(machine.row(f"end-to-end flow run, {clip.name} {result.frames} frames at 540x304, per frame "
                                "(model load and tracing included)", wall / result.frames, None, peak,
                                extra=(f"{result.frames / wall:.2f}", f"{load.fraction:.0%}")))
        rows.append(machine.row("the same run's steady dreaming per frame, flow included", result.seconds_per_frame,
                                None, peak, extra=(f"{1 / result.seconds_per_frame:.2f}", f"{load.fraction:.0%}")))
    print("\nwhole runs (no FLOP count: weights, tracing, decoding, flow and encoding are much of their time):")
    print(machine.table_header("frames/s", "others"))
    print("\n".join(rows))

if __name__ == "__main__":
    app.run(main)
