"""A tiny regression task for the loop's tests: in-memory data with a position, dropout, a schedule."""
import time

import keras
import ml_collections
import numpy as np
import tensorflow as tf

from videocore import loop
from videocore import precision


def tiny_config(**loop_overrides):
    """A full config (task fields + loop block) small enough for a few hundred steps a second."""
    config = ml_collections.ConfigDict()
    config.image_size = 8
    config.filters = 8
    config.dropout = 0.25
    config.learning_rate = 1e-2
    config.clip_value = 0.0  # > 0: clip each element of the global gradient to this
    config.steps_per_epoch = 7
    config.data_seed = 3
    # (epoch, index, factor): the batch at that position has inputs and targets multiplied by factor.
    config.poison = ()
    config.poison_targets = True  # False: only the inputs, and the loss skips non-finite examples
    config.noise_schedule = [0.3, 0.2, 0.1, 0.05, 0.02]
    config.one_epoch_per_dataset = False  # True: make_dataset stops at the end of the epoch
    config.sample_sleep = 0.0  # > 0: sample() only sleeps this long (slows a run down for kill tests)
    config.loop = loop.loop_config()
    config.loop.batch_size = 4
    config.loop.num_steps = 20
    config.loop.precision = "float32"
    config.loop.checkpoint_every_steps = 5
    config.loop.log_every_steps = 1
    config.loop.sample_every_steps = 0
    config.loop.guard.spike_multiple = 0.0  # batch-4 losses swing widely; tests turn spikes on
    config.loop.update(loop_overrides)
    return config


class TinyTask:
    """Predicts the mean of an 8x8 RGB image from the image plus scheduled stateless noise."""

    def __init__(self, config, setup):
        self.config = config
        self.setup = setup
        size = config.image_size
        layers = [keras.Input((size, size, 3)),
                  keras.layers.Conv2D(config.filters, 3, padding="same", activation="relu")]
        if config.dropout:
            layers.append(keras.layers.Dropout(config.dropout))
        layers += [keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(1)]
        self.networks = {"net": keras.Sequential(layers, name="tiny")}
        self.optimizers = {"net": keras.optimizers.Adam(config.learning_rate)}
        self.steps_per_epoch = config.steps_per_epoch
        self.schedules = {"noise": list(config.noise_schedule)}
        self.frames_per_step = setup.global_batch
        examples = config.steps_per_epoch * setup.global_batch
        rng = np.random.default_rng(config.data_seed)
        self.images = rng.uniform(-1, 1, (examples, size, size, 3)).astype(np.float32)
        self.targets = self.images.mean(axis=(1, 2, 3))[:, None]
        self.positions_started = []

    def make_dataset(self, position, global_batch):
        self.positions_started.append(tuple(position))
        images, targets = tf.constant(self.images), tf.constant(self.targets)
        examples = images.shape[0]
        seed = self.config.data_seed
        poison = np.asarray(self.config.poison or np.zeros((0, 3)), np.float64).reshape(-1, 3)
        poison_epochs = tf.constant(poison[:, 0], tf.int64)
        poison_indices = tf.constant(poison[:, 1], tf.int64)
        poison_factors = tf.constant(poison[:, 2], tf.float32)

        def epoch_batches(epoch):
            order = tf.argsort(tf.random.stateless_uniform([examples], seed=tf.stack([seed, epoch])))
            batches = tf.data.Dataset.from_tensor_slices(order).batch(global_batch, drop_remainder=True)
            return batches.enumerate().map(lambda index, ids: (epoch, index, ids))

        def gather(epoch, index, ids):
            x = tf.gather(images, ids)
            hit = tf.logical_and(tf.equal(poison_epochs, epoch), tf.equal(poison_indices, index))
            factor = tf.reduce_prod(tf.where(hit, poison_factors, tf.ones_like(poison_factors)))
            y = tf.gather(targets, ids)
            return x * factor, y * factor if self.config.poison_targets else y

        last_epoch = position.epoch + 1 if self.config.one_epoch_per_dataset else 1 << 30
        dataset = tf.data.Dataset.range(position.epoch, last_epoch).flat_map(epoch_batches)
        return dataset.skip(position.index).map(gather, num_parallel_calls=tf.data.AUTOTUNE)

    def train_step(self, batch, ctx):
        images, targets = batch
        noise = tf.random.stateless_normal(tf.shape(images), seed=ctx.seed("noise"))
        network = self.networks["net"]
        with tf.GradientTape() as tape:
            prediction = network(images + ctx.value("noise") * noise, training=True)
            errors = tf.square(precision.float32(prediction) - targets)
            if not self.config.poison_targets:
                # Skip non-finite examples in the loss: it stays finite whether or not this CPU's ReLU
                # passes NaN on, while tf.where's gradient still carries the NaNs (0 * NaN) into the
                # update, which breaks the weights: the case the check before each save must catch.
                errors = tf.where(tf.math.is_finite(errors), errors, tf.zeros_like(errors))
            loss = tf.reduce_mean(errors)
        ctx.minimize(tape, loss, "net", clip_value=self.config.clip_value or None)
        return {"mse": loss, "noise": ctx.value("noise")}

    def sample(self, step):
        del step
        if self.config.sample_sleep:
            time.sleep(self.config.sample_sleep)
            return {}
        return {"inputs": self.images[:4]}


def weights(task):
    """{name: array} of every network and optimizer variable, for comparing runs."""
    arrays = {}
    for name, network in task.networks.items():
        for variable in network.weights:
            arrays[f"{name}/{variable.path}"] = np.asarray(variable.numpy())
    for name, optimizer in task.optimizers.items():
        for index, variable in enumerate(optimizer.variables):
            arrays[f"optimizer/{name}/{index}/{variable.path}"] = np.asarray(variable.numpy())
    return arrays
