"""The training loop's overhead over a bare compiled step, and float32 vs the auto precision policy.

    python bench/bench_loop.py [--steps=5]
At the VAE-GAN's full size (dissertation preset: batch 12, 256x144, filters 80-640, real frames
of bigbuckbunny), the same train step is timed three ways, medians over --steps steps after one
warm-up step:
  bare:  the step alone in a tf.function, called on batches already in memory, synced each step
         (the naive baseline, auto policy);
  loop:  videocore.loop.train with everything on (tf.data + distribution wrapper, loss sync, guard,
         TensorBoard scalars every step, progress): time between consecutive steps' summaries;
  float32: the bare step again under float32.
Goal: loop / bare - 1 < 2 %. One checkpoint save is timed too and amortised over the default
interval. Other jobs on the machine make single runs 1.5-2x slower: compare within one run.
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


def bare_step_times(config, stores, policy_name, steps):
    """Median seconds per step of the task's train step compiled alone, batches in memory."""
    keras.utils.set_random_seed(0)
    policy = precision.apply_policy(policy_name)
    task = vaegan_train.VaeGanTask(config, make_setup(config, policy), stores)
    trains = {name: (name,) for name in task.optimizers}
    for name, optimizer in task.optimizers.items():
        optimizer.build(task.networks[name].trainable_variables)
    counters = tf.train.Checkpoint(step=tf.Variable(0, dtype=tf.int64), epoch=tf.Variable(0, dtype=tf.int64))
    schedules = {name: tf.Variable(values, dtype=tf.float32) for name, values in task.schedules.items()}
    context = loop.StepContext(task, trains, counters, schedules, config.loop.seed, config.loop.batch_size, 1)
    batches = list(task.make_dataset(loop.Position(0, 0), config.loop.batch_size).take(steps + 1))

    @tf.function
    def step(batch):
        losses = task.train_step(batch, context)
        counters.step.assign_add(1)
        return losses

    times = []
    for batch in batches:
        start = time.perf_counter()
        losses = step(batch)
        float(losses["kl"])  # sync, as the loop does
        times.append(time.perf_counter() - start)
    keras.mixed_precision.set_global_policy("float32")
    return statistics.median(times[1:]), task


def loop_step_times(config, stores, workdir):
    """Median seconds between consecutive steps of loop.train (wall times of their summaries)."""
    result = loop.train(lambda setup: vaegan_train.VaeGanTask(config, setup, stores), config, workdir)
    walls = events.wall_times(pathlib.Path(workdir) / "tensorboard", "losses/kl")
    gaps = [later - earlier for earlier, later in zip(walls, walls[1:])]
    return statistics.median(gaps), result


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

    bare, task = bare_step_times(config, [store], "auto", args.steps)
    print(f"bare compiled step ({auto}):   {bare:7.3f} s/step")
    with tempfile.TemporaryDirectory() as workdir:
        looped, result = loop_step_times(config, [store], workdir)
        print(f"loop.train step ({auto}):      {looped:7.3f} s/step   overhead {100 * (looped / bare - 1):+.2f} %"
              "  (goal < 2 %)")
        save = checkpoint_seconds(result.task, pathlib.Path(workdir) / "timed")
    every = loop.loop_config().checkpoint_every_steps
    print(f"checkpoint save:              {save:7.3f} s  = {100 * save / (every * looped):.2f} % "
          f"amortised over the default {every} steps")
    del task, result
    gc.collect()
    float32, _ = bare_step_times(config, [store], "float32", args.steps)
    print(f"bare compiled step (float32): {float32:7.3f} s/step   {auto} is {float32 / bare:.2f}x faster")


if __name__ == "__main__":
    main()
