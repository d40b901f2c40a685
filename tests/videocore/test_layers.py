"""The fused BatchNormalization against Keras' own: outputs, gradients, moving statistics, bf16."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from videocore import layers


def _pair(shape, momentum=0.9, epsilon=1e-3):
    ours = layers.BatchNormalization(momentum=momentum, epsilon=epsilon)
    theirs = keras.layers.BatchNormalization(momentum=momentum, epsilon=epsilon)
    ours.build(shape)
    theirs.build(shape)
    gamma = np.random.default_rng(0).uniform(0.5, 1.5, shape[-1]).astype(np.float32)
    beta = np.linspace(-0.5, 0.5, shape[-1]).astype(np.float32)
    for layer in (ours, theirs):
        layer.gamma.assign(gamma)
        layer.beta.assign(beta)
    return ours, theirs


@pytest.mark.parametrize("shape", [(6, 5, 7, 4), (6, 4), (3, 2, 5, 6, 4)])
def test_matches_keras_in_training_and_inference(shape):
    ours, theirs = _pair(shape)
    x = tf.constant(np.random.default_rng(1).normal(2.0, 3.0, shape).astype(np.float32))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y_ours = ours(x, training=True)
        y_theirs = theirs(x, training=True)
        loss_ours = tf.reduce_sum(tf.sin(y_ours))
        loss_theirs = tf.reduce_sum(tf.sin(y_theirs))
    np.testing.assert_allclose(y_ours.numpy(), y_theirs.numpy(), atol=1e-4)
    for a, b in zip(tape.gradient(loss_ours, [x, ours.gamma, ours.beta]),
                    tape.gradient(loss_theirs, [x, theirs.gamma, theirs.beta])):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-3, atol=1e-4)
    count = np.prod(shape[:-1])
    np.testing.assert_allclose(ours.moving_mean.numpy(), theirs.moving_mean.numpy(), atol=1e-5)
    # Ours moves the variance with the unbiased batch variance: n / (n - 1) times Keras' step.
    biased = (theirs.moving_variance.numpy() - 0.9) / 0.1  # Keras: 0.9 * 1 + 0.1 * biased variance
    expected = 0.9 + 0.1 * biased * count / (count - 1)
    np.testing.assert_allclose(ours.moving_variance.numpy(), expected, rtol=1e-5)
    theirs.moving_variance.assign(ours.moving_variance)
    np.testing.assert_allclose(ours(x, training=False).numpy(), theirs(x, training=False).numpy(), atol=1e-4)


def test_stays_bf16_under_mixed_precision():
    layer = layers.BatchNormalization(dtype="mixed_bfloat16")
    x = tf.random.normal((4, 8, 8, 16))
    y = layer(x, training=True)
    assert y.dtype == tf.bfloat16
    assert layer.gamma.dtype == "float32" and layer.moving_mean.dtype == "float32"
    reference = (x - tf.reduce_mean(x, axis=(0, 1, 2))) / tf.sqrt(tf.math.reduce_variance(x, axis=(0, 1, 2)) + 1e-3)
    np.testing.assert_allclose(tf.cast(y, tf.float32).numpy(), reference.numpy(), atol=0.05)


def test_keras_can_save_and_load_it(tmp_path):
    model = keras.Sequential([keras.Input((4, 4, 3)), layers.BatchNormalization(momentum=0.8)])
    model(np.ones((2, 4, 4, 3), np.float32), training=True)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.layers[0].momentum == 0.8
    np.testing.assert_allclose(loaded.layers[0].moving_mean.numpy(), model.layers[0].moving_mean.numpy())


@pytest.mark.parametrize("scale,center,use_bias", [(True, True, True), (False, True, False), (True, False, False)])
def test_folded_conv_equals_conv_then_batch_norm(scale, center, use_bias):
    rng = np.random.default_rng(0)
    conv = keras.layers.Conv2D(5, 3, padding="same", use_bias=use_bias, dtype="float32")
    norm = keras.layers.BatchNormalization(scale=scale, center=center, epsilon=1e-3, dtype="float32")
    x = tf.constant(rng.normal(size=(2, 7, 6, 4)), tf.float32)
    conv.build(x.shape)
    norm.build((2, 7, 6, 5))
    # Statistics far from the initial 0 / 1, so a folding that ignored any of them would show.
    norm.moving_mean.assign(rng.normal(size=5))
    norm.moving_variance.assign(rng.uniform(0.2, 3.0, size=5))
    if scale:
        norm.gamma.assign(rng.uniform(0.5, 2.0, size=5))
    if center:
        norm.beta.assign(rng.normal(size=5))
    if use_bias:
        conv.bias.assign(rng.normal(size=5))
    expected = norm(conv(x), training=False).numpy()
    kernel, bias = layers.fold_batch_norm(
        conv.kernel.numpy(), conv.bias.numpy() if use_bias else None, norm.moving_mean.numpy(),
        norm.moving_variance.numpy(), norm.epsilon, gamma=norm.gamma.numpy() if scale else None,
        beta=norm.beta.numpy() if center else None)
    folded = tf.nn.conv2d(x, kernel, 1, "SAME") + bias
    np.testing.assert_allclose(folded.numpy(), expected, rtol=1e-5, atol=1e-5)
    assert not np.allclose(conv(x).numpy(), expected, atol=1e-2)  # the BN really changed the output
