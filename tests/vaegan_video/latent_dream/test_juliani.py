"""The notebook's sequence model (`juliani` preset): its values, summed L2, lr x 0.97^epoch, global-norm clip, uniform feedback noise."""

import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from videocore import loop
from vaegan_video.latent_dream import configs as latent_configs
from vaegan_video.latent_dream import dream
from vaegan_video.latent_dream import losses as latent_losses
from vaegan_video.latent_dream import models as latent_models
from vaegan_video.latent_dream import train as latent_train
from tests.vaegan_video.latent_dream import test_train as sequence_tests


def test_juliani_preset_has_the_notebooks_values():
    config = latent_configs.get_config("juliani")
    assert (config.model.num_layers, config.model.units, config.model.head, config.model.residual) == (
        2, 256, "l2", False)
    assert config.loss.l2_reduction == "sum"
    assert (config.loop.batch_size, config.train.window, config.loop.num_epochs, config.loop.num_steps) == (
        5, 50, 150, 0)
    assert (config.optimizer.learning_rate, config.optimizer.decay_per_epoch) == (2e-2, 0.97)
    assert (config.optimizer.clip_norm, config.optimizer.clip_value) == (5.0, 0.0)
    assert (config.dream.num_frames, config.dream.noise, config.dream.feedback_noise) == (1000, 0.1, "uniform")
    assert config.dream.temperature == 0.0 and config.dream.latent_bound == 0.0
    model = latent_models.build(config.model, 64)
    assert [layer.name for layer in model.layers if isinstance(layer, keras.layers.LSTM)] == ["lstm1", "lstm2"]
    assert model.get_layer("next_latent").units == 64


def test_summed_l2_is_the_squared_error_summed_over_dimensions_averaged_over_batch_and_time():
    prediction = tf.constant([[[1.0, 2.0], [0.0, 0.0]], [[3.0, 0.0], [1.0, 1.0]]])  # (B 2, T 2, D 2)
    target = tf.zeros_like(prediction)
    mask = tf.constant([[1.0, 1.0], [1.0, 0.0]])
    # Valid steps: 1 + 4 = 5, 0, 9 (the masked step's 2 is left out): mean 14 / 3; "mean" halves it.
    assert float(latent_losses.l2_loss(prediction, target, mask, "sum")) == pytest.approx(14 / 3)
    assert float(latent_losses.l2_loss(prediction, target, mask)) == pytest.approx(7 / 3)
    with pytest.raises(ValueError, match="reduction"):
        latent_losses.l2_loss(prediction, target, mask, "max")


def test_learning_rate_decays_per_data_epoch(tmp_path):
    config = sequence_tests._config(num_steps=0)
    config.model.head, config.model.residual = "l2", False
    config.loop.num_epochs = 3
    config.optimizer.learning_rate = 0.5
    config.optimizer.decay_per_epoch = 0.5

    class Recording(latent_train.SequenceTask):
        def train_step(self, batch, ctx):
            losses = super().train_step(batch, ctx)
            return {**losses, "lr": tf.convert_to_tensor(self.optimizers["sequence"].learning_rate)}

    streams = sequence_tests._streams()
    result = loop.train(lambda setup: Recording(config, setup, streams, 0.0), config, tmp_path)
    assert result.task.schedules["learning_rate"] == pytest.approx([0.5, 0.25, 0.125])
    assert result.losses["lr"] == pytest.approx(0.125)  # the last step is in epoch 2


def _sgd_task(seed=0):
    """A one-Dense-layer task whose SGD(1.0) update is exactly minus the (clipped) gradient."""
    class Task:
        pass

    task = Task()
    keras.utils.set_random_seed(seed)
    task.networks = {"net": keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])}
    task.optimizers = {"net": keras.optimizers.SGD(1.0)}
    task.optimizers["net"].build(task.networks["net"].trainable_variables)
    return task


def _context(task, num_replicas):
    counters = tf.train.Checkpoint(step=tf.Variable(0, dtype=tf.int64), epoch=tf.Variable(0, dtype=tf.int64))
    return loop.StepContext(task, {"net": ("net",)}, counters, {}, 0, 8, num_replicas)


def batch_data():
    rng = np.random.default_rng(3)
    return rng.normal(size=(8, 4)).astype(np.float32) * 10, rng.normal(size=(8, 3)).astype(np.float32)


def clipped_update(clip_norm, strategy=None):
    """Weights after one SGD(1.0) step on batch_data() with the global norm clipped, under `strategy`."""
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        task = _sgd_task()
        ctx = _context(task, strategy.num_replicas_in_sync)
    before = [v.numpy().copy() for v in task.networks["net"].trainable_variables]
    x, y = batch_data()
    dataset = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensors((x, y)))

    def replica_step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(task.networks["net"](x) - y))
        ctx.minimize(tape, loss, "net", clip_norm=clip_norm)

    @tf.function
    def step(batch):
        strategy.run(replica_step, args=batch)

    step(next(iter(dataset)))
    after = [v.numpy() for v in task.networks["net"].trainable_variables]
    return before, after


def test_global_norm_clip_bounds_the_update_and_keeps_its_direction():
    before, free = clipped_update(None)
    _, clipped = clipped_update(5.0)
    free_step = np.concatenate([(a - b).ravel() for a, b in zip(free, before)])
    clipped_step = np.concatenate([(a - b).ravel() for a, b in zip(clipped, before)])
    assert np.linalg.norm(free_step) > 10  # the bound is active here
    assert np.linalg.norm(clipped_step) == pytest.approx(5.0, rel=1e-5)
    np.testing.assert_allclose(clipped_step, free_step * 5.0 / np.linalg.norm(free_step), rtol=1e-4, atol=1e-6)
    _, loose = clipped_update(1e6)  # a bound above the norm changes nothing
    np.testing.assert_allclose(np.concatenate([(a - b).ravel() for a, b in zip(loose, before)]), free_step,
                               rtol=1e-6)


@pytest.mark.slow  # a subprocess with two replicas: ~8 s
def test_global_norm_clip_means_the_same_on_two_replicas(tmp_path):
    code = f"""
import sys, numpy as np, tensorflow as tf
sys.path.insert(0, {str(pathlib.Path(__file__).resolve().parents[3])!r})
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from tests.vaegan_video.latent_dream import test_juliani as here
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
before, after = here.clipped_update(5.0, strategy)
np.save({str(tmp_path / 'step.npy')!r}, np.concatenate([(a - b).ravel() for a, b in zip(after, before)]))
"""
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300, capture_output=True)
    before, after = clipped_update(5.0)
    expected = np.concatenate([(a - b).ravel() for a, b in zip(after, before)])
    np.testing.assert_allclose(np.load(tmp_path / "step.npy"), expected, rtol=1e-4, atol=1e-6)


def _zero_model(dim=8):
    """An l2-head sequence model that always predicts z = 0, so a fed-back latent is the noise alone."""
    config = latent_configs.juliani().model
    config.units = 4
    model = latent_models.build(config, dim)
    head = model.get_layer("next_latent")
    head.set_weights([np.zeros_like(w) for w in head.get_weights()])
    return model


@pytest.mark.parametrize("kind", ["uniform", "gaussian"])
def test_feedback_noise_is_uniform_in_the_range_or_gaussian(kind):
    settings = dream.DreamSettings(num_frames=400, chunk=100, seed_frames=1, temperature=0.0, noise=0.1,
                                   feedback_noise=kind, latent_bound=0.0)
    warm = np.zeros((1, 8), np.float32)
    fed = np.concatenate(list(dream.rollout(dream.Dreamer(_zero_model()), settings, warm)))[1:]  # (399, 8)
    if kind == "uniform":
        assert np.abs(fed).max() <= 0.1 and np.abs(fed).max() > 0.099
        assert fed.std() == pytest.approx(0.1 / np.sqrt(3), rel=0.05)  # the uniform's, not a Gaussian's
        # Evenly spread: each tenth of the range holds about a tenth of the draws.
        counts = np.histogram(fed, bins=10, range=(-0.1, 0.1))[0]
        assert counts.min() > 0.7 * fed.size / 10
    else:
        assert np.abs(fed).max() > 0.25 and fed.std() == pytest.approx(0.1, rel=0.05)
    with pytest.raises(Exception, match="feedback_noise"):
        dream.DreamSettings(num_frames=4, feedback_noise="pink").check()
