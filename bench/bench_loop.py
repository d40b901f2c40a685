"""The training loop's overhead over a bare compiled step, and float32 vs the auto precision policy.

    python bench/bench_loop.py [--steps=5]
At the VAE-GAN's full size (dissertation preset: batch 12, 256x144, filters 80-640, real frames
of bigbuckbunny), the same train step is timed three ways, medians over --steps steps after a
warm-up (tracing) step:
  bare:  the step alone in a tf.function, called on batches already in memory, synced each step
         (the naive baseline, auto policy); timed before and after the loop's run;
  loop:  videocore.loop.train with everything on (tf.data + distribution wrapper, loss sync, guard,
         TensorBoard scalars every step, progress): time between consecutive steps' summaries,
         and the part of it outside the compiled step (the loop's own work);
  float32: the bare step again under float32.
  tiny: the same comparison on a tiny model (300 steps), where the loop's fixed per-step cost
         dominates and can be measured in milliseconds despite the noise.
Goal: loop overhead < 2 %. One checkpoint save is timed too and amortised over the default
interval. Other jobs on the machine make single runs 1.5-2x slower and noisy, which the
loop-vs-bare comparison of two different runs feels; the loop's own work is measured inside
each step of one run and is the steadier figure.
"""

import argparse
import gc
import pathlib
import statistics
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from tests.videocore import events  # noqa: E402
from tests.videocore import tiny_task  # noqa: E402
from vaegan_video import configs  # noqa: E402
from vaegan_video import train as vaegan_train  # noqa: E402
from videocore import checkpoint  # noqa: E402
from videocore import framestore  # noqa: E402
from videocore import loop  # noqa: E402
from videocore import precision  # noqa: E402
from videocore import video  # noqa: E402


def full_size_config(steps):
    config = configs.dissertation()
    config.loop.num_epochs = 0
    config.loop.num_steps = steps + 1  # + the warm-up (tracing) step
    config.loop.log_every_steps = 1
    config.loop.sample_every_steps = 0
    return config


def make_setup(config, policy):
    strategy = tf.distribute.get_strategy()
    return loop.Setup(strategy=strategy, policy=policy, global_batch=config.loop.batch_size,
                      num_replicas=1, is_chief=True, workdir=pathlib.Path("."), seed=config.loop.seed)


class BareStep:
    """The task's train step compiled alone, called on batches already in memory (the baseline)."""

    def __init__(self, config, stores, policy_name, steps):
        keras.utils.set_random_seed(0)
        policy = precision.apply_policy(policy_name)
        self.task = task = vaegan_train.VaeGanTask(config, make_setup(config, policy), stores)
        trains = {name: (name,) for name in task.optimizers}
        for name, optimizer in task.optimizers.items():
            optimizer.build(task.networks[name].trainable_variables)
        counters = tf.train.Checkpoint(step=tf.Variable(0, dtype=tf.int64), epoch=tf.Variable(0, dtype=tf.int64))
        schedules = {name: tf.Variable(values, dtype=tf.float32) for name, values in task.schedules.items()}
        context = loop.StepContext(task, trains, counters, schedules, config.loop.seed,
                                   config.loop.batch_size, 1)
        self.batches = list(task.make_dataset(loop.Position(0, 0), config.loop.batch_size).take(steps))

        @tf.function
        def step(batch):
            losses = task.train_step(batch, context)
            counters.step.assign_add(1)
            return losses

        self.step = step
        self.time()  # warm-up: tracing
        keras.mixed_precision.set_global_policy("float32")

    def time(self):
        """Median seconds per step over the batches, each step synced as the loop syncs it."""
        times = []
        for batch in self.batches:
            start = time.perf_counter()
            float(self.step(batch)["kl"])
            times.append(time.perf_counter() - start)
        return statistics.median(times)


def loop_step_times(config, stores, workdir):
    """Median seconds between consecutive steps of loop.train, and of the part outside the step.

    Both from the run's own event file: the wall time of each step's summaries, and the step
    time it logs (the compiled call and its sync); their difference is the loop's own work.
    """
    result = loop.train(lambda setup: vaegan_train.VaeGanTask(config, setup, stores), config, workdir)
    logdir = pathlib.Path(workdir) / "tensorboard"
    walls = events.wall_times(logdir, "losses/kl")
    inside = [float(value) for _, value in events.read(logdir)["perf/step_time_s"]]
    gaps = [later - earlier for earlier, later in zip(walls, walls[1:])]
    outside = [gap - step for gap, step in zip(gaps, inside[1:])]
    return statistics.median(gaps), statistics.median(outside), result


def tiny_fixed_cost(workdir, steps=300):
    """The loop's fixed cost per step in seconds, where it dominates: a tiny model's step.

    Returns (bare, loop) medians: the tiny task's step compiled alone on in-memory batches, and
    the gap between consecutive steps of loop.train (summaries written every step).
    """
    config = tiny_task.tiny_config(num_steps=steps, checkpoint_every_steps=10 * steps, log_every_steps=1)
    policy = precision.apply_policy("float32")
    task = tiny_task.TinyTask(config, make_setup(config, policy))
    task.optimizers["net"].build(task.networks["net"].trainable_variables)
    counters = tf.train.Checkpoint(step=tf.Variable(0, dtype=tf.int64), epoch=tf.Variable(0, dtype=tf.int64))
    schedules = {name: tf.Variable(values, dtype=tf.float32) for name, values in task.schedules.items()}
    context = loop.StepContext(task, {"net": ("net",)}, counters, schedules, 0, config.loop.batch_size, 1)
    batches = list(task.make_dataset(loop.Position(0, 0), config.loop.batch_size).take(steps))
    step = tf.function(lambda batch: task.train_step(batch, context))
    times = []
    for batch in batches:
        start = time.perf_counter()
        float(step(batch)["mse"])
        times.append(time.perf_counter() - start)
    loop.train(lambda setup: tiny_task.TinyTask(config, setup), config, workdir)
    walls = events.wall_times(pathlib.Path(workdir) / "tensorboard", "losses/mse")
    gaps = [later - earlier for earlier, later in zip(walls, walls[1:])]
    return statistics.median(times[1:]), statistics.median(gaps[1:])


def checkpoint_seconds(task, directory):
    saver = checkpoint.Checkpointer(directory, dict(networks=dict(task.networks),
                                                    optimizers=dict(task.optimizers)))
    start = time.perf_counter()
    saver.save(1)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5, help="timed steps per arm (after one warm-up)")
    args = parser.parse_args()
    config = full_size_config(args.steps)
    store = framestore.FrameStore.open_or_build(
        video.sample_clip("bigbuckbunny"), size=(config.model.width, config.model.height), aspect="16:9")
    auto = precision.choose_policy("auto")
    print(f"VAE-GAN, batch {config.loop.batch_size}, {config.model.width}x{config.model.height}, "
          f"auto policy = {auto}; medians of {args.steps} steps")

    with tempfile.TemporaryDirectory() as workdir:
        tiny_bare, tiny_loop = tiny_fixed_cost(workdir)
    fixed = tiny_loop - tiny_bare
    print(f"tiny model, loop's fixed cost: bare {1e3 * tiny_bare:.2f} ms/step, loop {1e3 * tiny_loop:.2f} ms/step"
          f" -> {1e3 * fixed:.2f} ms per step (summaries every step)")
    bare = BareStep(config, [store], "auto", args.steps)
    before = bare.time()
    print(f"bare compiled step ({auto}):   {before:7.3f} s/step")
    with tempfile.TemporaryDirectory() as workdir:
        looped, outside, result = loop_step_times(config, [store], workdir)
        after = bare.time()  # again, so that load changes during the loop's run show up
        baseline = (before + after) / 2
        print(f"bare compiled step again:     {after:7.3f} s/step")
        print(f"loop.train step ({auto}):      {looped:7.3f} s/step   {100 * (looped / baseline - 1):+.2f} % vs "
              "the bare step's mean (noisy: other jobs share the CPU)")
        print(f"loop's own work between steps: {outside:6.3f} s/step = {100 * outside / looped:.2f} % of a step")
        print(f"overhead from the fixed cost:  {100 * fixed / baseline:.2f} % of the bare step  (goal < 2 %)")
        save = checkpoint_seconds(result.task, pathlib.Path(workdir) / "timed")
    every = loop.loop_config().checkpoint_every_steps
    print(f"checkpoint save:              {save:7.3f} s  = {100 * save / (every * looped):.2f} % "
          f"amortised over the default {every} steps")
    del bare, result
    gc.collect()
    float32 = BareStep(config, [store], "float32", args.steps).time()
    print(f"bare compiled step (float32): {float32:7.3f} s/step   {auto} is {float32 / baseline:.2f}x faster")


if __name__ == "__main__":
    main()
