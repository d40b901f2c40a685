"""The one training loop: precision, distribution, checkpoints and resume, NaN guard, TensorBoard, evaluation.

Each method brings a task (its networks, optimizers, data and one train step; the contract is
the `Task` protocol below, its optional members `OptionalTask`) and calls
`train(make_task, config, workdir)`, which does the rest: it builds the task under the
distribution strategy and precision policy of `config.loop`, resumes from `workdir/checkpoints`,
compiles the step once, runs to `num_steps` / `num_epochs`, checkpoints (every N steps, every M
minutes, on SIGTERM / SIGINT), rolls back on non-finite or exploding losses, writes TensorBoard
to `workdir/tensorboard` and runs the task's `evaluate` hook. `Task`'s docstring has a worked example.
"""
import collections
import dataclasses
import datetime
import numbers
import pathlib
import shutil
import statistics
import sys
import time
import typing
import zlib

import keras
import ml_collections
import numpy as np
import tensorflow as tf
import tqdm
from absl import logging

from videocore import checkpoint
from videocore import device
from videocore import distribute
from videocore import errors
from videocore import precision
from videocore import steptimes
from videocore import summaries

Position = collections.namedtuple("Position", ["epoch", "index"])


class Task(typing.Protocol):
    """What `train` needs from a method's task (any object with these members; duck-typed).

    The loop may replace entries of `optimizers` (a LossScaleOptimizer under mixed_float16):
    always look them up through `self.optimizers` inside the step.

    Randomness that must resume exactly: stateless ops seeded with `ctx.seed(tag)` (different per
    step and replica), Keras layers' own seed generators (checkpointed by the loop), or a
    `tf.random.Generator` in `state`. Stateful `tf.random.*` ops cannot be resumed.
    A WGAN's 5 critic updates per generator update fit in one step: let each dataset element hold
    the 5 critic batches and the generator batch (batch axis first in each), loop over them in
    `train_step`; do weight clipping with a Keras `kernel_constraint` (optimizers apply it after each
    update, in the right distribution context). Before every checkpoint the loop checks the weights
    are finite (a NaN input can vanish in a ReLU and leave the loss finite while the update breaks
    the weights); non-finite weights are handled like a bad loss (rollback).

    Worked example (a one-network regression):

        def make_task(setup):                       # runs inside strategy.scope()
            return Regression(config, setup)

        class Regression:
            def __init__(self, config, setup):
                self.networks = {"net": keras.Sequential([keras.Input((8,)), keras.layers.Dense(1)])}
                self.optimizers = {"net": keras.optimizers.Adam(config.learning_rate)}
                self.steps_per_epoch = 50
                self.schedules = {"noise": [0.1, 0.05, 0.0]}        # one value per epoch

            def make_dataset(self, position, global_batch):
                # any pipeline that can start at (epoch, index), e.g. videocore.data.shuffled_batches
                return my_batches(global_batch, start=position)

            def train_step(self, batch, ctx):
                x, y = batch
                noise = tf.random.stateless_normal(tf.shape(x), seed=ctx.seed("noise"))
                with tf.GradientTape() as tape:
                    prediction = self.networks["net"](x + ctx.value("noise") * noise, training=True)
                    loss = tf.reduce_mean(tf.square(precision.float32(prediction) - y))
                ctx.minimize(tape, loss, "net")
                return {"mse": loss}

            def evaluate(self, step):                   # optional: figures on held-out data
                x, y = self.held_out
                return {"mse": float(tf.reduce_mean(tf.square(self.networks["net"](x) - y)))}

        config.loop = videocore.loop.loop_config()
        config.loop.batch_size = 64
        config.loop.num_epochs = 3
        config.loop.eval_every_steps = 100
        result = videocore.loop.train(make_task, config, workdir)   # resumes if workdir has checkpoints
        result.evaluation                                           # {"mse": ...} after the last step
    """

    networks: typing.Dict[str, keras.Model]
    """{name: keras.Model}, built (their variables exist) in `make_task`."""

    optimizers: typing.Dict[str, keras.optimizers.Optimizer]
    """{name: optimizer}; optimizer `name` trains network `name` unless `trains` says otherwise."""

    steps_per_epoch: int
    """Dataset elements (= train steps) per epoch."""

    def make_dataset(self, position: Position, global_batch: int) -> tf.data.Dataset:
        """The *global* batches from `position` = Position(epoch, index) on, one element per step.

        The dataset goes on through later epochs (if it ends, the loop calls this again at the
        position reached). Every tensor in an element has the batch axis first: the loop splits
        it across replicas.
        """

    def train_step(self, batch, ctx: "StepContext") -> typing.Dict[str, tf.Tensor]:
        """One step on this replica's share of the batch, inside the compiled step -> {name: scalar loss}.

        Return each loss as the mean over the replica's examples; the loop averages them over
        replicas for logging and the guard. Use `ctx.minimize(tape, loss, name)` (or divide by
        `ctx.num_replicas` yourself and call `optimizer.scale_loss`) so gradients summed over
        replicas are those of the global mean. Several networks from one forward pass: open one
        `tf.GradientTape(persistent=True)` and call `minimize` once per network with its own loss.
        """


class OptionalTask(Task, typing.Protocol):
    """Members a task may add to `Task`; the loop looks each one up and does without it if absent."""

    trains: typing.Dict[str, typing.Tuple[str, ...]]
    """{optimizer name: network names} when an optimizer is not named after the one network it trains;
    "network/layer" names one layer's variables (a released code's optimizer that took some of another's)."""

    schedules: typing.Dict[str, typing.Sequence[float]]
    """{name: [value per epoch]}, e.g. a noise sigma, read as `ctx.value(name)`; kept in the checkpoint
    (a resumed run uses the checkpoint's table)."""

    state: typing.Dict[str, tf.Variable]
    """{name: trackable}: extra variables to checkpoint (carried LSTM state, a tf.random.Generator...),
    created in `make_task`. A variable each replica assigns in the step keeps one value per replica
    in memory, but checkpoints hold the first replica's only: with several replicas a carried LSTM
    state resumes from replica 0's value (reset it at resume if that matters)."""

    frames_per_step: int
    """Frames one step consumes (default: the global batch), for the frames/s figures."""

    def sample(self, step: int) -> typing.Dict[str, np.ndarray]:
        """{name: images (N, H, W, 3) uint8 or float in [-1, 1]}, called eagerly on the chief every
        `loop.sample_every_steps`; written to TensorBoard and as `workdir/samples/<name>/<step>.png` grids."""

    def evaluate(self, step: int) -> typing.Dict[str, float]:
        """{name: figure} on data the task holds out, called eagerly on the chief every
        `loop.eval_every_steps` and once after the last step (not when a signal stops the run); with
        `loop.eval_at_start` also before the first step of a new run.

        Numbers go to `workdir/tensorboard` as `eval/<name>`; the last call's dict is
        `Result.evaluation`. Keep it cheap: training waits for it (and, with several workers,
        the other workers too).
        """


def loop_config():
    """The loop's config block; each method's presets embed it as `config.loop` and override fields."""
    config = ml_collections.ConfigDict()
    config.batch_size = 12  # global batch, split evenly across replicas
    config.num_epochs = 0  # stop after this many epochs of data; or
    config.num_steps = 0  # stop after this many train steps (set exactly one of the two)
    config.seed = 0
    config.precision = "auto"  # auto | float32 | mixed_bfloat16 | mixed_float16
    config.distribute = "default"  # default | mirrored | multi_worker (cluster from TF_CONFIG)
    config.cpu_replicas = 1  # mirrored on a CPU-only machine: logical CPU devices to split into
    config.deterministic = False  # tf op determinism (for bit-exact resume; slower on some ops)
    # None = as videocore.device chooses: off on CPU (XLA measured 1.5-3x slower than oneDNN), on on GPU.
    config.jit_compile = ml_collections.config_dict.placeholder(bool)
    config.restart = False  # set aside existing checkpoints / summaries and start over
    config.checkpoint_every_steps = 1000
    config.checkpoint_every_minutes = 30.0
    config.keep_checkpoints = 3
    config.log_every_steps = 10  # scalars to TensorBoard, log lines when not on a terminal
    config.sample_every_steps = 500  # task.sample() grids; 0 = never
    config.eval_every_steps = 0  # task.evaluate() figures; 0 = only after the last step
    # Also evaluate before the first step of a new run (not on resume): the untrained networks' figures,
    # a starting point for the curves and a candidate for a task's early stopping.
    config.eval_at_start = False
    config.histogram_every_steps = 0  # weight histograms; 0 = never
    config.guard = ml_collections.ConfigDict()
    config.guard.spike_multiple = 10.0  # loss > this x running median is a spike; <= 0 = off
    config.guard.window = 100  # steps in the running median
    config.guard.min_history = 20  # good steps before spikes are judged
    config.guard.watch = ()  # loss names judged for spikes; empty = all
    config.guard.lr_factor = 1.0  # multiply every learning rate by this on each rollback
    config.guard.max_rollbacks = 3  # rollbacks in a row (no checkpoint between) before giving up
    return config


@dataclasses.dataclass(frozen=True)
class Setup:
    """What `make_task` gets: the strategy it is built under and the run's fixed facts."""

    strategy: tf.distribute.Strategy
    policy: str
    global_batch: int
    num_replicas: int
    is_chief: bool
    workdir: pathlib.Path
    seed: int


@dataclasses.dataclass
class Result:
    """What `train` returns, and every method's `train_and_evaluate` after it.

    `stopped_by` names the signal that stopped the run early, if any; `losses` are the last step's;
    `evaluation` is the task's last `evaluate` (empty without the hook, on other workers than the
    chief, and when a signal stopped the run); `outputs` are files a method wrote after training
    (the loop leaves it empty).
    """

    task: object
    step: int
    position: Position
    checkpoint: str
    stopped_by: str
    rollbacks: int
    traces: int
    losses: dict
    evaluation: dict = dataclasses.field(default_factory=dict)
    outputs: list = dataclasses.field(default_factory=list)


class StepContext:
    """What `train_step` may use besides its batch; its tensors are valid inside the compiled step."""

    def __init__(self, task, trains, counters, schedules, seed, global_batch, num_replicas):
        self._task = task
        self._trains = trains
        self._counters = counters
        self._schedules = schedules
        self._seed = seed
        self.global_batch = global_batch
        self.num_replicas = num_replicas

    @property
    def step(self):
        """int64 scalar: the number of the step being run (0 for the first)."""
        return self._counters.step.read_value()

    @property
    def epoch(self):
        """int64 scalar: the data epoch the batch comes from."""
        return self._counters.epoch.read_value()

    def value(self, name):
        """float32 scalar: schedule `name` at the current epoch (its last value past its end)."""
        table = self._schedules[name]
        index = tf.minimum(self._counters.epoch.read_value(), tf.cast(tf.shape(table)[0] - 1, tf.int64))
        return tf.gather(table, index)

    def seed(self, tag):
        """int64 (2,) seed for stateless random ops, distinct per tag, step and replica."""
        base = (self._seed * 1_000_003 + zlib.crc32(tag.encode())) % (2**31 - 1)
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        counter = self._counters.step.read_value() * self.num_replicas + tf.cast(replica, tf.int64)
        return tf.stack([tf.constant(base, tf.int64), counter])

    def minimize(self, tape, loss, name, clip_value=None, clip_norm=None, when=None):
        """One update of optimizer `name` on its networks from `loss` (this replica's mean loss).

        Divides by the number of replicas (optimizers sum gradients over replicas) and applies the
        optimizer's loss scaling (identity unless mixed_float16). Returns the gradients.
        clip_value: clip each element of the *global* gradient to [-clip_value, clip_value].
        clip_norm: rescale the *global* gradient to a global norm of at most clip_norm (over all
        the optimizer's variables, as tf.clip_by_global_norm); applied after clip_value. With
        several replicas the gradients are summed first, so either bound means the same on any
        number of replicas (Keras' own clipnorm / global_clipnorm act per replica, before the sum).
        when: a scalar bool tensor; False skips the update (the optimizer's state does not move).
        One replica only (the optimizer's cross-replica sum cannot run inside a condition).
        """
        if when is not None and self.num_replicas > 1:
            raise errors.ConfigError(f"a conditional update of {name!r} needs one replica; this run has "
                                     f"{self.num_replicas}")
        optimizer = self._task.optimizers[name]
        variables = [v for entry in self._trains[name] for v in trained_variables(self._task.networks, entry)]
        # The tape is closed by now, so the scaling enters as the output gradient instead of an op.
        scale = optimizer.scale_loss(tf.constant(1.0))
        factor = scale / self.num_replicas
        gradients = tape.gradient(loss, variables, output_gradients=tf.cast(factor, loss.dtype))
        if (clip_value or clip_norm) and self.num_replicas > 1:
            # Each replica then holds an equal share of the global gradient; the optimizer's
            # own cross-replica sum puts the clipped global gradient back together.
            total = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, gradients)
            gradients = [g / self.num_replicas for g in total]
        if clip_value:
            bound = float(clip_value) * factor
            # Clipping every element costs little on its own but measured +100 % on a full-size
            # VAE-GAN step here; testing the largest element first makes the common case cheap.
            largest = tf.reduce_max(tf.stack([tf.cast(tf.reduce_max(tf.abs(g)), tf.float32) for g in gradients]))
            gradients = tf.cond(
                largest > bound,
                lambda: [tf.clip_by_value(g, -tf.cast(bound, g.dtype), tf.cast(bound, g.dtype)) for g in gradients],
                lambda: [tf.identity(g) for g in gradients])
        if clip_norm:
            # The share each replica holds is the global gradient times `factor`: so is the bound.
            norm = tf.sqrt(tf.add_n([tf.reduce_sum(tf.square(tf.cast(g, tf.float32))) for g in gradients]))
            shrink = tf.minimum(1.0, float(clip_norm) * tf.cast(factor, tf.float32) / tf.maximum(norm, 1e-30))
            gradients = [g * tf.cast(shrink, g.dtype) for g in gradients]
        if when is None:
            optimizer.apply_gradients(zip(gradients, variables))
        else:
            def apply():
                optimizer.apply_gradients(zip(gradients, variables))
                return tf.constant(True)
            tf.cond(when, apply, lambda: tf.constant(False))
        return gradients


def trained_variables(networks, entry):
    """The trainable variables a `Task.trains` entry names: a whole network, or "network/layer" one layer of it."""
    network, _, layer = entry.partition("/")
    model = networks[network]
    return model.get_layer(layer).trainable_variables if layer else model.trainable_variables


def train(make_task: typing.Callable[[Setup], Task], config, workdir) -> Result:
    """Trains the task `make_task(setup)` builds (a `Task`), as `config.loop` says, in `workdir`.

    workdir gets checkpoints/ (resumed automatically), tensorboard/ and samples/. Returns a
    Result (also when stopped by SIGTERM / SIGINT, after saving). Raises ConfigError for a loop
    config that cannot work, CheckpointError for a checkpoint that does not fit the task, and
    checkpoint.DivergedError when losses stay bad after `guard.max_rollbacks` rollbacks in a row.
    With distribute=mirrored or multi_worker, call it (or distribute.start(config.loop) first) before any
    other TensorFlow work in the process.
    """
    if "loop" not in config:
        raise errors.ConfigError("config has no 'loop' block (embed videocore.loop.loop_config())")
    loop = config.loop
    _check_loop_config(loop)
    workdir = pathlib.Path(workdir)
    strategy = distribute.start(loop)  # the one a main made before its first TensorFlow op, if it did
    if loop.batch_size % strategy.num_replicas_in_sync:
        raise errors.ConfigError(
            f"loop.batch_size={loop.batch_size} does not split evenly over "
            f"{strategy.num_replicas_in_sync} replicas")
    is_chief = distribute.is_chief(strategy)
    if loop.restart and is_chief:
        _set_aside(workdir)
    with precision.policy_scope(loop.precision) as policy:
        trainer = _Trainer(make_task, config, workdir, strategy, policy, is_chief)
        return trainer.run()


def _check_loop_config(loop):
    if (loop.num_epochs > 0) == (loop.num_steps > 0):
        raise errors.ConfigError(
            f"set exactly one of loop.num_epochs ({loop.num_epochs}) and loop.num_steps ({loop.num_steps})")
    positive = ("batch_size", "checkpoint_every_steps", "keep_checkpoints", "log_every_steps")
    for name in positive:
        if loop[name] <= 0:
            raise errors.ConfigError(f"loop.{name}={loop[name]} must be positive")
    if loop.checkpoint_every_minutes <= 0:
        raise errors.ConfigError(f"loop.checkpoint_every_minutes={loop.checkpoint_every_minutes} must be positive")
    if loop.guard.max_rollbacks < 0 or not 0 < loop.guard.lr_factor <= 1:
        raise errors.ConfigError("loop.guard.max_rollbacks must be >= 0 and loop.guard.lr_factor in (0, 1]")


def _set_aside(workdir):
    """loop.restart: moves a previous run's outputs to workdir/previous/<time>/ rather than deleting them."""
    parts = [workdir / name for name in ("checkpoints", "tensorboard", "samples")]
    parts = [part for part in parts if part.exists()]
    if not parts:
        return
    destination = workdir / "previous" / time.strftime("%Y%m%d-%H%M%S")
    destination.mkdir(parents=True, exist_ok=True)
    for part in parts:
        shutil.move(str(part), str(destination / part.name))
    logging.info("loop.restart: previous run moved to %s", destination)


class _DataStream:
    """Distributed batches from a position onwards, rebuilding the dataset when it runs out."""

    def __init__(self, strategy, make_dataset, global_batch):
        self._strategy = strategy
        self._make_dataset = make_dataset
        self._global_batch = global_batch
        self._iterator = None
        self.element_spec = None

    def start(self, position):
        dataset = self._make_dataset(Position(*position), self._global_batch)
        if not isinstance(dataset, tf.data.Dataset):
            raise TypeError(f"make_dataset must return a tf.data.Dataset, got {type(dataset).__name__}")
        options = tf.data.Options()
        # Each worker builds the whole pipeline and keeps its replicas' slices of every global batch.
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        distributed = self._strategy.experimental_distribute_dataset(dataset.with_options(options))
        if self.element_spec is None:
            self.element_spec = distributed.element_spec
        self._iterator = iter(distributed)

    def next(self, position):
        try:
            return next(self._iterator)
        except StopIteration:
            self.start(position)
            try:
                return next(self._iterator)
            except StopIteration:
                raise errors.ConfigError(
                    f"make_dataset(position={tuple(position)}) produced no batches") from None


class _Trainer:
    """One run of the loop; `train` builds it and calls `run`."""

    def __init__(self, make_task, config, workdir, strategy, policy, is_chief):
        self.config = config
        self.loop = config.loop
        self.workdir = workdir
        self.strategy = strategy
        self.policy = policy
        self.is_chief = is_chief
        self.multi_worker = distribute.is_multi_worker(strategy)
        self.num_replicas = strategy.num_replicas_in_sync
        if self.loop.deterministic:
            tf.config.experimental.enable_op_determinism()
        keras.utils.set_random_seed(self.loop.seed)
        setup = Setup(strategy=strategy, policy=policy, global_batch=self.loop.batch_size,
                      num_replicas=self.num_replicas, is_chief=is_chief, workdir=workdir,
                      seed=self.loop.seed)
        with strategy.scope():
            self.task = make_task(setup)
            self._check_task()
            self.trains = dict(getattr(self.task, "trains", None) or
                               {name: (name,) for name in self.task.optimizers})
            for name, optimizer in list(self.task.optimizers.items()):
                optimizer = precision.wrap_optimizer(optimizer, policy)
                if not optimizer.built:  # the checkpoint can only restore slots that exist
                    optimizer.build(self._variables_of(name))
                self.task.optimizers[name] = optimizer
            self.counters = tf.train.Checkpoint(
                step=tf.Variable(0, dtype=tf.int64, trainable=False, name="step"),
                epoch=tf.Variable(0, dtype=tf.int64, trainable=False, name="data_epoch"),
                index=tf.Variable(0, dtype=tf.int64, trainable=False, name="data_index"))
            self.schedules = {
                name: tf.Variable(np.asarray(values, np.float32), trainable=False, name=f"schedule_{name}")
                for name, values in (getattr(self.task, "schedules", None) or {}).items()}
        # Local (never mirrored) flags each worker raises; the step sums them over workers so all agree.
        self.flags = tf.Variable([0.0, 0.0], trainable=False, name="stop_and_save_flags")
        self.context = StepContext(self.task, self.trains, self.counters, self.schedules,
                                   self.loop.seed, self.loop.batch_size, self.num_replicas)
        self.checkpointer = checkpoint.Checkpointer(
            workdir / "checkpoints", self._checkpoint_objects(),
            max_to_keep=self.loop.keep_checkpoints, is_chief=is_chief)
        self.guard = checkpoint.LossGuard(
            spike_multiple=self.loop.guard.spike_multiple, window=self.loop.guard.window,
            min_history=self.loop.guard.min_history, watch=self.loop.guard.watch)
        self.guard_at_save = {}  # the guard's history when the last checkpoint was written
        self.writer = summaries.Writer(workdir / "tensorboard", enabled=is_chief)
        self.frames_per_step = int(getattr(self.task, "frames_per_step", None) or self.loop.batch_size)
        self.traces = 0

    # ---- set-up -------------------------------------------------------------------------------

    def _check_task(self):
        task = self.task
        for attribute in ("networks", "optimizers", "steps_per_epoch", "make_dataset", "train_step"):
            if not hasattr(task, attribute):
                raise TypeError(f"the task has no {attribute!r} (see videocore.loop.Task)")
        trains = getattr(task, "trains", None) or {name: (name,) for name in task.optimizers}
        for name in task.optimizers:
            missing = [n for n in trains.get(name, ()) if n.partition("/")[0] not in task.networks]
            if name not in trains or missing:
                raise errors.ConfigError(
                    f"optimizer {name!r} trains no known network; name it after one of "
                    f"{sorted(task.networks)} or map it in task.trains")
        for name, network in task.networks.items():
            if not network.built:
                raise TypeError(f"network {name!r} is not built: build it in make_task")
        if int(task.steps_per_epoch) <= 0:
            raise errors.ConfigError(f"the task's steps_per_epoch={task.steps_per_epoch} must be positive")
        for name, values in (getattr(task, "schedules", None) or {}).items():
            if len(values) == 0:
                raise errors.ConfigError(f"schedule {name!r} is empty")
            if self.loop.num_epochs and len(values) < self.loop.num_epochs:
                raise errors.ConfigError(
                    f"schedule {name!r} has {len(values)} values but loop.num_epochs={self.loop.num_epochs}")

    def _variables_of(self, optimizer_name):
        return [v for entry in self.trains[optimizer_name] for v in trained_variables(self.task.networks, entry)]

    def _checkpoint_objects(self):
        # Keras seed generators (Dropout, random layers) are not tracked by tf.train.Checkpoint
        # through the model: without them a resumed run draws other dropout masks.
        seed_states = {}
        for name, network in self.task.networks.items():
            weight_ids = {id(v) for v in network.weights}
            states = [v for v in network.variables if id(v) not in weight_ids]
            if states:
                seed_states[name] = states
        objects = {checkpoint.NETWORKS: dict(self.task.networks), checkpoint.OPTIMIZERS: dict(self.task.optimizers),
                   checkpoint.COUNTERS: self.counters}
        if seed_states:
            objects[checkpoint.SEED_STATES] = seed_states
        if self.schedules:
            objects[checkpoint.SCHEDULES] = dict(self.schedules)
        state = getattr(self.task, "state", None)
        if state:
            objects[checkpoint.TASK_STATE] = dict(state)
        return objects

    # ---- the compiled step -----------------------------------------------------------------

    def _compile_step(self, element_spec):
        strategy, task, context = self.strategy, self.task, self.context
        flags = self.flags
        names = []

        def replica_step(batch):
            losses = task.train_step(batch, context)
            if not isinstance(losses, dict):
                raise TypeError("train_step must return a dict {name: scalar loss}")
            names[:] = sorted(losses)
            values = [tf.reshape(tf.cast(losses[name], tf.float32), []) for name in names]
            # One vector, one all-reduce per step: the losses and this worker's stop / save flags.
            return tf.concat([tf.stack(values) if values else tf.zeros([0]), tf.identity(flags)], 0)

        jit_compile = self.loop.jit_compile
        if jit_compile if jit_compile is not None else device.choices().jit_compile:
            replica_step = tf.function(replica_step, jit_compile=True)

        @tf.function(input_signature=[element_spec])
        def step(batch):
            self.traces += 1
            per_replica = strategy.run(replica_step, args=(batch,))
            total = strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)
            self.counters.step.assign_add(1)
            return total

        def run(batch):
            total = step(batch).numpy()
            count = len(names)
            losses = {name: float(value) / self.num_replicas for name, value in zip(names, total[:count])}
            stop, save = total[count:] > 0
            return losses, bool(stop), bool(save)

        return run

    # ---- the run ------------------------------------------------------------------------------

    def _done(self):
        if self.loop.num_steps:
            return self.step >= self.loop.num_steps
        return self.position.epoch >= self.loop.num_epochs

    def _total_steps(self):
        return self.loop.num_steps or self.loop.num_epochs * int(self.task.steps_per_epoch)

    def _advance(self, position):
        index = position.index + 1
        if index >= int(self.task.steps_per_epoch):
            return Position(position.epoch + 1, 0)
        return Position(position.epoch, index)

    def _write_position(self, position):
        self.counters.epoch.assign(position.epoch)
        self.counters.index.assign(position.index)

    def _save(self):
        """Checkpoints the current state (callers check the weights first); resets the rollback count."""
        self._write_position(self.position)
        path = self.checkpointer.save(self.step)
        self.last_save_time = time.monotonic()
        if path is None and self.is_chief:
            # The save failed (one warning, earlier checkpoints intact): the last good state stays
            # the rollback target, and the end of the run tries again (a second failure stops it).
            return
        self.saved_at = self.step
        self.rollbacks_in_row = 0
        self.guard_at_save = self.guard.snapshot()
        if path:
            logging.info("step %d: checkpoint %s (epoch %d, batch %d)", self.step, path, *self.position)
        self.last_path = path or self.checkpointer.latest()

    def _weights_finite(self):
        for network in self.task.networks.values():
            for variable in network.weights:
                value = tf.convert_to_tensor(variable.value)
                if value.dtype.is_floating and not bool(tf.reduce_all(tf.math.is_finite(value))):
                    logging.warning("non-finite values in %s", variable.path)
                    return False
        return True

    def _restore(self):
        """Restores the latest checkpoint unless loop.restart; returns (path, step, position)."""
        # restore() skips damaged checkpoints (one warning each) for the newest readable one.
        path = None if self.loop.restart else self.checkpointer.restore()
        if path is None:
            return None, 0, Position(0, 0)
        step = int(self.counters.step.numpy())
        position = Position(int(self.counters.epoch.numpy()), int(self.counters.index.numpy()))
        logging.info("resumed from %s: step %d, epoch %d, batch %d", path, step, *position)
        for name, table in self.schedules.items():
            configured = np.asarray(self.task.schedules[name], np.float32)
            if not np.array_equal(configured, table.numpy()):
                logging.warning("schedule %r differs from the checkpoint's: using the checkpoint's", name)
        return path, step, position

    def _rollback(self, problem, bad_step, batch_position):
        """Restores the last good checkpoint after bad step `bad_step`; the data stream goes on."""
        guard = self.loop.guard
        if self.rollbacks_in_row >= guard.max_rollbacks:
            raise checkpoint.DivergedError(
                f"training diverged at step {bad_step} (epoch {batch_position.epoch}, batch "
                f"{batch_position.index}): {problem}, after {self.rollbacks_in_row} rollback(s) in a row; "
                f"last good checkpoint {self.checkpointer.latest()}. Lower the learning rate or raise "
                "loop.guard.max_rollbacks")
        self.rollbacks_in_row += 1
        self.rollbacks += 1
        path = self.checkpointer.restore()
        self.guard.restore(self.guard_at_save)
        self.step = int(self.counters.step.numpy())
        self.saved_at = None  # the skipped batch moved the data position: save it before leaving
        self._write_position(self.position)  # the restore rewound the counters; the data goes on
        lowered = ""
        if guard.lr_factor < 1:
            for name, optimizer in self.task.optimizers.items():
                try:
                    optimizer.learning_rate = float(optimizer.learning_rate) * guard.lr_factor
                except TypeError:
                    logging.warning("optimizer %r has a learning-rate schedule: cannot lower it", name)
            lowered = f", learning rates x{guard.lr_factor:g}"
        logging.warning(
            "step %d: %s; rolled back to %s (step %d), skipping batch %d of epoch %d (the data goes "
            "on after it; batches since step %d are not replayed)%s (rollback %d in a row)", bad_step,
            problem, path, self.step, batch_position.index, batch_position.epoch, self.step, lowered,
            self.rollbacks_in_row)
        self.writer.scalars(self.step, {"guard/rollbacks": self.rollbacks})

    def _write_header(self, resumed_from):
        device = precision.describe_device(self.policy)
        texts = {
            "config": summaries.config_markdown(self.config),
            "environment": summaries.environment_markdown(
                precision=self.policy, device=device,
                strategy=f"{type(self.strategy).__name__} ({self.num_replicas} replicas)",
                resumed_from=resumed_from or "none (fresh start)"),
        }
        self.writer.text(int(self.counters.step.numpy()), texts)
        self.writer.hparams(self.config)  # a sweep's runs side by side in the HParams tab

    def _learning_rates(self):
        rates = {}
        for name, optimizer in self.task.optimizers.items():
            try:
                rates[f"learning_rate/{name}"] = float(optimizer.learning_rate)
            except (TypeError, ValueError):
                pass
        return rates

    def _sample(self, step):
        if not self.is_chief or not hasattr(self.task, "sample"):
            return
        images = self.task.sample(step) or {}
        clips = {name: images.pop(name) for name in list(images) if isinstance(images[name], summaries.Clip)}
        for name, clip in clips.items():  # animated in TensorBoard's Images tab
            self.writer.animations(step, {f"samples/{name}": clip.frames}, clip.fps)
        grids = {name: summaries.image_grid(np.asarray(value)) for name, value in images.items()}
        self.writer.images(step, {f"samples/{name}": grid for name, grid in grids.items()})
        for name, grid in grids.items():
            summaries.save_png(self.workdir / "samples" / name / f"{step:08d}.png", grid)

    def _histograms(self, step):
        values = {f"weights/{name}/{v.path}": v.value for name, network in self.task.networks.items()
                  for v in network.trainable_variables}
        self.writer.histograms(step, values)

    def run(self):
        """Set-up and restore, the step loop, the last save and the final evaluation -> Result."""
        resumed_from = self._start()
        stream = _DataStream(self.strategy, self.task.make_dataset, self.loop.batch_size)
        stream.start(self.position)
        run_step = self._compile_step(stream.element_spec)
        try:
            losses, stopped_by = self._step_loop(stream, run_step)
            if self.saved_at != self.step and self._weights_finite():
                self._save()
            self._record_step_time()
            if not stopped_by and self.evaluated_at != self.step:  # a signal asks to exit: no evaluation
                self._evaluate(self.step)
        finally:
            self.writer.close()
        if stopped_by:
            logging.warning("stopped by %s at step %d; checkpoint %s; run again with the same workdir "
                            "to resume", stopped_by, self.step, self.last_path)
        else:
            logging.info("finished at step %d (epoch %d, batch %d); checkpoint %s", self.step,
                         *self.position, self.last_path)
        return Result(task=self.task, step=self.step, position=self.position, checkpoint=self.last_path,
                      stopped_by=stopped_by, rollbacks=self.rollbacks, traces=self.traces, losses=losses,
                      evaluation=self.evaluation)

    def _start(self):
        """Restores the latest checkpoint (or saves step 0 to roll back to) and writes the run's header."""
        resumed_from, self.step, self.position = self._restore()
        self.rollbacks_in_row = 0
        self.rollbacks = 0
        self.last_save_time = time.monotonic()
        self.last_path = resumed_from
        self.saved_at = self.step
        self.evaluated_at = None
        self.evaluation = {}
        self.step_times = collections.deque(maxlen=50)
        self.timed_steps = []  # this process's step times after steptimes.WARM_UP_STEPS, for the cache
        self.untimed_steps = steptimes.WARM_UP_STEPS
        self.tty = sys.stderr.isatty()
        if resumed_from is None:
            self._save()  # a good state to roll back to from the very start
        self._write_position(self.position)
        self._write_header(resumed_from)
        if resumed_from is None and self.loop.get("eval_at_start", False):
            self._evaluate(self.step)
        return resumed_from

    def _step_loop(self, stream, run_step):
        """Steps until done or stopped -> (the last step's losses, what stopped the run or None)."""
        total = self._total_steps()
        bar = tqdm.tqdm(total=total, initial=min(self.step, total), disable=not self.tty,
                        unit="step", dynamic_ncols=True)
        losses = {}
        with checkpoint.StopSignals() as signals, bar:
            while not self._done():
                save_due = time.monotonic() - self.last_save_time > 60 * self.loop.checkpoint_every_minutes
                self.flags.assign([float(signals.received is not None), float(save_due)])
                batch = stream.next(self.position)
                start = time.perf_counter()
                losses, stop, save = run_step(batch)
                step_time = time.perf_counter() - start
                batch_position, self.position = self.position, self._advance(self.position)
                if batch_position.epoch != self.position.epoch:
                    self.counters.epoch.assign(self.position.epoch)
                problem = self.guard.problem(losses)
                if problem:
                    self._rollback(problem, self.step + 1, batch_position)
                    bar.n = min(self.step, total)
                    bar.refresh()
                else:
                    self.guard.record(losses)
                    self.step += 1
                    bar.update(1)
                    self._after_step(losses, step_time, bar)
                if not self.multi_worker:  # one process: act at once on a signal that came mid-step
                    stop = stop or signals.received is not None
                if not problem and (self.step % self.loop.checkpoint_every_steps == 0 or save or stop
                                    or self._done()):
                    self._save_or_roll_back(batch_position)
                if stop:
                    return losses, signals.received or "a signal to another worker"
        return losses, None

    def _after_step(self, losses, step_time, bar):
        """Progress, scalars, samples, histograms and evaluation after a good step."""
        step, position = self.step, self.position
        self.step_times.append(step_time)
        self._time_step(step_time)
        frames_per_second = self.frames_per_step / step_time
        bar.set_postfix({**{k: f"{v:.4g}" for k, v in losses.items()},
                         "frames/s": f"{frames_per_second:.1f}", "epoch": position.epoch}, refresh=False)
        if step % self.loop.log_every_steps == 0:
            scalars = {f"losses/{name}": value for name, value in losses.items()}
            scalars.update(self._learning_rates())
            scalars.update({"perf/step_time_s": step_time, "perf/frames_per_s": frames_per_second,
                            "progress/epoch": position.epoch})
            self.writer.scalars(step, scalars)
            if not self.tty:
                self._log_line(step, position, losses, self.step_times)
        if self.loop.sample_every_steps and (step % self.loop.sample_every_steps == 0 or self._done()):
            self._sample(step)
        if self.loop.histogram_every_steps and step % self.loop.histogram_every_steps == 0:
            self._histograms(step)
        if self.loop.eval_every_steps and step % self.loop.eval_every_steps == 0:
            self._evaluate(step)

    def _time_step(self, step_time):
        """Keeps step times past the warm-up; after steptimes.RECORD_AFTER of them, logs and caches the median."""
        if self.untimed_steps > 0:
            self.untimed_steps -= 1
            return
        if len(self.timed_steps) < 1000:
            self.timed_steps.append(step_time)
        if len(self.timed_steps) == steptimes.RECORD_AFTER:
            self._record_step_time()
            median, remaining = statistics.median(self.timed_steps), max(self._total_steps() - self.step, 0)
            logging.info("measured %.3g s per step here (median of %d); ~%s for the remaining %d steps",
                         median, len(self.timed_steps), datetime.timedelta(seconds=round(remaining * median)),
                         remaining)

    def _record_step_time(self):
        """Caches this run's median step time for the estimates of later runs (videocore.steptimes)."""
        if self.timed_steps and self.is_chief:
            steptimes.record(steptimes.workload_key(self.config, self.policy, self.num_replicas), self.timed_steps)

    def _save_or_roll_back(self, batch_position):
        """Checkpoints after a good step, unless the update broke the weights (then rolls back)."""
        if self._weights_finite():
            self._save()
        else:  # finite losses, but the update broke the weights: never save those
            self._rollback("non-finite weights after the update", self.step, batch_position)

    def _evaluate(self, step):
        """The task's `evaluate` on the chief: figures to TensorBoard as eval/<name>, kept for the Result."""
        self.evaluated_at = step
        evaluate = getattr(self.task, "evaluate", None)
        if evaluate is None or not self.is_chief:
            return
        figures = evaluate(step)
        if not isinstance(figures, dict):
            raise TypeError(f"evaluate must return a dict {{name: float}}, got {type(figures).__name__}")
        self.evaluation = dict(figures)
        numbers_only = {name: float(value) for name, value in figures.items() if isinstance(value, numbers.Real)}
        self.writer.scalars(step, {f"eval/{name}": value for name, value in numbers_only.items()})
        logging.info("step %d: evaluation %s", step, " ".join(f"{k} {v:.4g}" for k, v in numbers_only.items()))

    def _log_line(self, step, position, losses, step_times):
        median = statistics.median(step_times)
        eta = datetime.timedelta(seconds=round(max(self._total_steps() - step, 0) * median))
        loss_text = " ".join(f"{name} {value:.4g}" for name, value in losses.items())
        logging.info("step %d/%d epoch %d batch %d | %s | %.1f frames/s | ETA %s", step,
                     self._total_steps(), position.epoch, position.index, loss_text,
                     self.frames_per_step / median, eta)
