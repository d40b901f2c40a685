"""The training loop's overhead over a bare compiled step, and float32 vs the auto precision policy.

    python bench/bench_loop.py [--steps=5] [--refresh_peak]

First the machine line (videocore.machine: CPU, ISA, TensorFlow, oneDNN, compute dtype, measured peak), then
each workload as a table row: time, the step's analytic FLOPs (vaegan_video.plan.step_flops) as GFLOP/s and
% of that peak ("—" for the loop's own work, the checkpoint and the tiny model: no honest count), and the
ratio against the bare step timed in the same run.
At the VAE-GAN's full size (dissertation preset: batch 12, 256x144, filters 80-640, real frames
of bigbuckbunny), medians over --steps steps after a warm-up (tracing) step:
  bare:  the task's train step alone in a tf.function, called on a batch already in memory and
         synced (the naive baseline);
  loop:  videocore.loop.train with everything on (tf.data + distribution wrapper, loss sync,
         guard, TensorBoard scalars every step, progress). Its compiled step (from the step times
         it logs) is timed in the same run as the bare step, alternating one of each, so that the
         load of other jobs on the machine falls on both alike; the loop's own work between steps
         is the gap between consecutive steps' summaries minus the step and the bare step;
  tiny:  loop vs bare on a tiny model (300 steps), where the loop's fixed per-step cost dominates
         and shows in milliseconds;
  float32: the bare step under float32, against the bare step under the auto policy.
Goal: loop overhead < 2 % of the bare step (x baseline of "loop in all" >= 0.98). One checkpoint save is
timed too and amortised over the default interval.
"""

import gc
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

from tests.videocore import events  # noqa: E402
from tests.videocore import tiny_task  # noqa: E402
from vaegan_video import configs  # noqa: E402
from vaegan_video import train as vaegan_train  # noqa: E402
from videocore import checkpoint  # noqa: E402
from videocore import framestore  # noqa: E402
from vaegan_video import plan  # noqa: E402
from videocore import loop  # noqa: E402
from videocore import machine  # noqa: E402
from videocore import precision  # noqa: E402
from videocore import video  # noqa: E402


def bare_step(task, config):
    """The task's train step compiled alone: what a hand-written loop would call."""
    counters = tf.train.Checkpoint(step=tf.Variable(0, dtype=tf.int64), epoch=tf.Variable(0, dtype=tf.int64))
    schedules = {name: tf.Variable(values, dtype=tf.float32)
                 for name, values in (getattr(task, "schedules", None) or {}).items()}
    trains = {name: (name,) for name in task.optimizers}
    context = loop.StepContext(task, trains, counters, schedules, config.loop.seed, config.loop.batch_size, 1)

    @tf.function
    def step(batch):
        losses = task.train_step(batch, context)
        counters.step.assign_add(1)
        return losses

    return step


def timed(step, batch):
    start = time.perf_counter()
    losses = step(batch)
    float(next(iter(losses.values())))  # sync, as the loop does
    return time.perf_counter() - start


class Alternating(vaegan_train.VaeGanTask):
    """The VAE-GAN task, plus one bare step timed between each two of the loop's steps."""

    def __init__(self, config, setup, stores):
        super().__init__(config, setup, stores)
        self.bare_times, self.hook_times = [], []
        self._bare = None

    def sample(self, step):
        start = time.perf_counter()
        if self._bare is None:
            self._batch = next(iter(self.make_dataset(loop.Position(0, 0), self.config.loop.batch_size)))
            self._bare = bare_step(self, self.config)
        self.bare_times.append(timed(self._bare, self._batch))
        self.hook_times.append(time.perf_counter() - start)
        return {}


def full_size(steps, store, workdir):
    """(loop step, bare step, loop's own work) medians in seconds, and the run's Result."""
    config = configs.dissertation()
    config.loop.update(num_epochs=0, num_steps=steps + 1, log_every_steps=1, sample_every_steps=1)
    result = loop.train(lambda setup: Alternating(config, setup, [store]), config, workdir)
    logdir = pathlib.Path(workdir) / "tensorboard"
    inside = [float(value) for _, value in events.read(logdir)["perf/step_time_s"]]
    walls = events.wall_times(logdir, "losses/kl")
    task = result.task
    # Summaries of step s are written before its sample hook, so the gap s -> s+1 holds hook s.
    own = [later - earlier - step_time - hook for earlier, later, step_time, hook
           in zip(walls, walls[1:], inside[1:], task.hook_times)]
    return statistics.median(inside[1:]), statistics.median(task.bare_times[1:]), statistics.median(own), result


def tiny_fixed_cost(workdir, steps=300):
    """(bare, loop) median seconds per step of a tiny model, summaries written every step."""
    config = tiny_task.tiny_config(num_steps=steps, checkpoint_every_steps=10 * steps, log_every_steps=1)
    policy = precision.apply_policy("float32")
    setup = loop.Setup(strategy=tf.distribute.get_strategy(), policy=policy, global_batch=config.loop.batch_size,
                       num_replicas=1, is_chief=True, workdir=pathlib.Path(workdir), seed=0)
    task = tiny_task.TinyTask(config, setup)
    task.optimizers["net"].build(task.networks["net"].trainable_variables)
    step = bare_step(task, config)
    bare = [timed(step, batch) for batch in task.make_dataset(loop.Position(0, 0), config.loop.batch_size).take(steps)]
    loop.train(lambda setup: tiny_task.TinyTask(config, setup), config, workdir)
    walls = events.wall_times(pathlib.Path(workdir) / "tensorboard", "losses/mse")
    gaps = [later - earlier for earlier, later in zip(walls, walls[1:])]
    return statistics.median(bare[1:]), statistics.median(gaps[1:])


def float32_step(steps, store):
    config = configs.dissertation()
    precision.apply_policy("float32")
    setup = loop.Setup(strategy=tf.distribute.get_strategy(), policy="float32", global_batch=config.loop.batch_size,
                       num_replicas=1, is_chief=True, workdir=pathlib.Path("."), seed=0)
    task = vaegan_train.VaeGanTask(config, setup, [store])
    for name, optimizer in task.optimizers.items():
        optimizer.build(task.networks[name].trainable_variables)
    batch = next(iter(task.make_dataset(loop.Position(0, 0), config.loop.batch_size)))
    step = bare_step(task, config)
    return statistics.median([timed(step, batch) for _ in range(steps + 1)][1:])


def checkpoint_seconds(task, directory):
    saver = checkpoint.Checkpointer(directory, dict(networks=dict(task.networks), optimizers=dict(task.optimizers)))
    start = time.perf_counter()
    saver.save(1)
    return time.perf_counter() - start


FLAGS = flags.FLAGS
flags.DEFINE_integer("steps", 5, "Timed steps per measurement (after one warm-up).")
flags.DEFINE_bool("refresh_peak", False, "Measure the machine's peak again instead of reading it from the cache.")

GOAL_OVERHEAD = 2.0  # %: the loop in all (its compiled step and its own work) over the bare step


def main(argv):
    del argv
    args = FLAGS
    info = machine.describe()
    peak = machine.measure_peak(info.policy, info=info, refresh=args.refresh_peak)
    print(machine.header_line(info, peak), flush=True)
    config = configs.dissertation()
    store = framestore.FrameStore.open_or_build(
        video.sample_clip("bigbuckbunny"), size=(config.model.width, config.model.height), aspect="16:9")
    auto = precision.choose_policy("auto")
    flops = plan.step_flops(config)

    with tempfile.TemporaryDirectory() as workdir, machine.OtherLoad() as load:
        tiny_bare, tiny_loop = tiny_fixed_cost(workdir)
    print("\ntiny model (300 steps, summaries every step): the loop's fixed cost per step is loop - bare")
    print(machine.table_header("vs bare", "others"))
    others = f"{load.fraction:.0%}"
    print(machine.row("tiny bare step (baseline)", tiny_bare, None, peak, tiny_bare, extra=("", others)))
    print(machine.row("tiny loop step", tiny_loop, None, peak, tiny_bare,
                      extra=(f"{1e3 * (tiny_loop - tiny_bare):+.2f} ms", others)), flush=True)

    with tempfile.TemporaryDirectory() as workdir:
        with machine.OtherLoad() as load:
            looped, bare, own, result = full_size(args.steps, store, workdir)
        with machine.OtherLoad() as save_load:
            save = checkpoint_seconds(result.task, pathlib.Path(workdir) / "timed")
    every = loop.loop_config().checkpoint_every_steps
    others = f"{load.fraction:.0%}"
    print(f"\nVAE-GAN, batch {config.loop.batch_size}, {config.model.width}x{config.model.height}, auto policy = "
          f"{auto}, {flops / 1e9:,.0f} GFLOP per step (vaegan_video.plan.step_flops); medians of {args.steps} steps, "
          "the bare and the loop's steps alternating:")
    print(machine.table_header("vs bare", "others"))
    print(machine.row(f"bare compiled step ({auto}, baseline)", bare, flops, peak, bare, extra=("", others)))
    print(machine.row(f"loop's compiled step ({auto})", looped, flops, peak, bare,
                      extra=(f"{100 * (looped / bare - 1):+.2f} %", others)))
    print(machine.row("loop's own work between steps", own, None, peak, extra=(f"{100 * own / bare:+.2f} %", others)))
    print(machine.row("loop in all (compiled step + own work)", looped + own, flops, peak, bare,
                      extra=(f"{100 * ((looped + own) / bare - 1):+.2f} %", others)))
    print(machine.row(f"checkpoint save (amortised over the default {every} steps)", save, None, peak,
                      extra=(f"{100 * save / (every * looped):.2f} % per step", f"{save_load.fraction:.0%}")))
    print(f"goal: loop in all < {GOAL_OVERHEAD:.0f} % over the bare step")
    del result
    gc.collect()
    keras.backend.clear_session()
    with machine.OtherLoad() as load:
        float32 = float32_step(args.steps, store)
    print(f"\nprecision, bare compiled step, median of {args.steps}; baseline: float32:")
    print(machine.table_header("others"))
    print(machine.row("bare compiled step (float32, baseline)", float32, flops, peak, float32,
                      extra=(f"{load.fraction:.0%}",)))
    print(machine.row(f"bare compiled step ({auto}, from the table above)", bare, flops, peak, float32,
                      extra=(others,)))
    print(f"% of peak: of the {peak.policy} peak on the machine line, whatever dtype a row ran in; others: share "
          "of the CPUs other processes used meanwhile (0% = quiet machine)")


if __name__ == "__main__":
    cli.run(main)
