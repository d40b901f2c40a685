"""DeepDream speed: one 540x360 frame, 4 octaves x 5 iterations, layers mixed3 + mixed5, real weights.

Prints seconds per frame (median), GFLOP/s, and the ratio against a straightforward float32 loop
built here in the same run: the Keras model cut at the dream layers, one `tf.function` gradient
step with input_signature [None, None, 3] (as in the TensorFlow DeepDream tutorial), octaves,
jitter and steps in Python. "ours" is `dream.Dreamer`: the whole frame in one graph traced for
its size, on `models.DreamNet` (BN folded plus the rewrites its docstring lists; "BN folded
only" leaves those out). Then the end-to-end frames/s of a whole `flow` run (decode, flow,
dream, encode) on a bundled clip, the time to the first dreamed frame of a fresh run (weights,
tracing and encoding included), and the seam figures of a film dreamed in 2 shards (warping
error of the frame pairs across the seam vs within the shards, and the same pairs of a single
run). Other jobs on the machine make figures noisy: read medians.

    python bench/bench_dream.py [--repeats=5] [--skip_video] [--tiny]
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
from videocore import video  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("repeats", 5, "Timed frames per variant (after one warm-up frame).")
flags.DEFINE_bool("skip_video", False, "Skip the end-to-end flow-mode run.")
flags.DEFINE_bool("tiny", False, "Check the benchmark runs: tiny frames, 1 repeat, no timing worth reading.")

LAYERS = ("mixed3", "mixed5")
OBJECTIVE = configs.default().objective  # what a run dreams with (l2), in every variant compared
SIZE = (540, 360)
NUM_OCTAVES, NUM_ITERATIONS, OCTAVE_SCALE, JITTER, LEARNING_RATE = 4, 5, 1.4, 32, 1.5 / 127.5


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
    clip = video.sample_clip("bigbuckbunny")
    first_seconds = time_to_first_frame(clip, SIZE if FLAGS.tiny else (384, 216))
    frame = list(video.read_frames(clip, start=2.4, end=2.45, size=SIZE))[0]
    image = modes.to_float(frame)
    shifts = dream.jitter_shifts(np.random.default_rng(0), NUM_OCTAVES, NUM_ITERATIONS, JITTER)
    model = models.inception_v3("auto")
    sizes = dream.octave_sizes(SIZE[1], SIZE[0], NUM_OCTAVES, OCTAVE_SCALE)
    net = models.DreamNet(model, LAYERS)
    gflop = 2 * NUM_ITERATIONS * sum(net.flops(h, w) for h, w in sizes) / 1e9
    print(f"frame {SIZE[0]}x{SIZE[1]}, octaves {sizes}, {NUM_ITERATIONS} iterations, layers {'+'.join(LAYERS)}")
    print(f"conv GFLOP per frame (forward + input gradient, counted from the layer shapes): {gflop:.0f}")

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
    results = time_interleaved(names, FLAGS.repeats)
    cores = os.cpu_count()
    print(f"\nload average before timing: {os.getloadavg()[0]:.1f} on {cores} cores (other jobs slow every variant)")
    print(f"{'variant':48s} {'first s':>7s} {'median s':>9s} {'GFLOP/s':>8s} {'speed-up':>8s} {'CPU s':>6s}")
    base_seconds = results["straightforward float32"][1]
    for name, (first, median, cpu) in results.items():
        print(f"{name:48s} {first:7.2f} {median:9.3f} {gflop / median:8.0f} {base_seconds / median:7.2f}x {cpu:6.2f}")
    ours_seconds = results["ours bfloat16"][1]
    ours_cpu = results["ours bfloat16"][2]
    print(f"goal <= 0.4 s per frame: {'met' if ours_seconds <= 0.4 else 'NOT met'} ({ours_seconds:.3f} s wall, "
          f"{ours_cpu / cores:.3f} s if it had all {cores} cores to itself; "
          f"{base_seconds / ours_seconds:.2f}x the straightforward loop)")

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

    print(f"\ntime to the first frame of a fresh default-preset run at {'160x96' if FLAGS.tiny else '384x216'}: "
          f"{first_seconds:.1f} s (weights, tracing of every scheduled layer, one frame, encoding)")
    seam, within, single_seam, single_within, frames, first = seam_figures(
        clip, (96, 64) if FLAGS.tiny else (192, 108), 0.48 if FLAGS.tiny else 2.0, 10)
    print(f"2 shards of a {frames}-frame flow run joined (seam before frame {first}, warm-up 10): warping error "
          f"across the seam {seam:.4f}, within shards {within:.4f}; a single run: {single_seam:.4f} at the "
          f"same pair, {single_within:.4f} elsewhere")

    if not FLAGS.skip_video:
        config = configs.flow()
        config.size = "540x304"
        config.warping_error = False
        with tempfile.TemporaryDirectory() as folder:
            began = time.perf_counter()
            result = dream_video_lib.dream_video(config, clip, pathlib.Path(folder) / "flow.mp4", progress=False)
            wall = time.perf_counter() - began
        print(f"\nend-to-end flow run, {clip.name} {result.frames} frames at 540x304: {wall:.1f} s wall "
              f"= {result.frames / wall:.2f} frames/s (model load and tracing included); "
              f"steady dreaming {result.seconds_per_frame:.3f} s/frame incl. flow")


if __name__ == "__main__":
    app.run(main)
