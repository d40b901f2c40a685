"""relive losses against hand computations: Wasserstein terms, gradient penalty, clipping, L2."""
import numpy as np
import pytest
import tensorflow as tf

from relive import losses


def test_wasserstein_losses_reduce_to_means():
    real = tf.constant([[1.0], [3.0]])
    fake = tf.constant([[-2.0], [0.5]])
    # E[D(fake)] - E[D(real)] = -0.75 - 2.0
    assert float(losses.wasserstein_critic_loss(real, fake)) == pytest.approx(-2.75)
    assert float(losses.wasserstein_generator_loss(fake)) == pytest.approx(0.75)
    loss = losses.wasserstein_critic_loss(tf.constant([1.0, 3.0], tf.bfloat16), tf.constant([0.0, 0.0], tf.bfloat16))
    assert loss.dtype == tf.float32 and loss.shape == ()


def test_interpolate_takes_one_epsilon_per_sample():
    real = tf.ones([2, 3, 4, 4, 3])
    fake = tf.zeros([2, 3, 4, 4, 3])
    mixed = losses.interpolate(real, fake, tf.constant([0.25, 1.0])).numpy()
    assert np.all(mixed[0] == 0.25) and np.all(mixed[1] == 1.0)


class TinyCritic:
    """D(x) = v . tanh(W flatten(x)): small enough to differentiate by hand."""

    def __init__(self, input_size, hidden=3, seed=0):
        rng = np.random.default_rng(seed)
        self.w = rng.normal(size=(input_size, hidden)).astype(np.float32)
        self.v = rng.normal(size=(hidden,)).astype(np.float32)

    def __call__(self, x):
        flat = tf.reshape(x, [tf.shape(x)[0], -1])
        return tf.tanh(flat @ self.w) @ self.v[:, None]

    def input_gradients(self, x):
        """dD/dx = W (v * (1 - tanh(W^T x)^2)), per sample, in numpy."""
        flat = x.reshape(len(x), -1).astype(np.float64)
        hidden = np.tanh(flat @ self.w)
        return ((1.0 - hidden ** 2) * self.v) @ self.w.T


def test_gradient_penalty_equals_the_hand_computation_over_all_non_batch_axes():
    x = np.random.default_rng(1).normal(size=(4, 2, 3, 3, 3)).astype(np.float32) * 0.5  # (B, T, H, W, C)
    critic = TinyCritic(2 * 3 * 3 * 3)
    gradients = critic.input_gradients(x)
    norms = np.sqrt((gradients ** 2).sum(axis=1))  # one norm per clip over T, H, W and C together
    expected = np.mean((norms - 1.0) ** 2)
    np.testing.assert_allclose(losses.gradient_norms(critic, tf.constant(x)).numpy(), norms, rtol=1e-5)
    assert float(losses.gradient_penalty(critic, tf.constant(x))) == pytest.approx(expected, rel=1e-5)
    # A per-frame norm (over H, W, C only) would give another value: the axes matter.
    per_frame = np.sqrt((gradients.reshape(4, 2, -1) ** 2).sum(axis=2))
    assert abs(np.mean((per_frame - 1.0) ** 2) - expected) > 1e-3


def test_gradient_penalty_of_a_linear_critic_is_the_weight_norm_minus_one_squared():
    weights = tf.constant([[3.0], [4.0]])  # |w| = 5 whatever the input

    def critic(x):
        return x @ weights

    assert float(losses.gradient_penalty(critic, tf.random.normal([6, 2]))) == pytest.approx(16.0)


def test_gradient_penalty_is_differentiable_in_the_critic_weights():
    weights = tf.Variable([[3.0], [4.0]])
    with tf.GradientTape() as tape:
        penalty = losses.gradient_penalty(lambda x: x @ weights, tf.random.normal([5, 2]))
    # d/dw (|w| - 1)^2 = 2 (|w| - 1) w / |w|
    np.testing.assert_allclose(tape.gradient(penalty, weights).numpy(), 2 * 4 * np.array([[3.0], [4.0]]) / 5,
                               rtol=1e-5)


def test_weight_clipping():
    values = tf.constant([-0.5, -0.01, 0.0, 0.004, 2.0])
    np.testing.assert_allclose(losses.clip_weights(values, 0.01).numpy(), [-0.01, -0.01, 0.0, 0.004, 0.01])
    constraint = losses.WeightClip(0.02)
    assert float(tf.reduce_max(constraint(values))) == pytest.approx(0.02)
    assert losses.WeightClip.from_config(constraint.get_config()).clip_value == 0.02
    with pytest.raises(ValueError):
        losses.WeightClip(0.0)


def test_l2_prediction_loss():
    predicted = tf.constant([[0.0, 1.0], [2.0, -1.0]])
    target = tf.constant([[1.0, 1.0], [0.0, -1.0]])
    assert float(losses.l2_prediction_loss(predicted, target)) == pytest.approx((1 + 0 + 4 + 0) / 4)


def test_log_mse_prediction_loss_averages_the_log_error_of_every_frame():
    target = tf.zeros((2, 2, 4, 4, 3))
    offsets = tf.constant([[0.1, 0.2], [0.0, 1.0]])  # one constant error per (clip, frame)
    predicted = target + offsets[:, :, None, None, None]
    expected = np.mean(np.log(np.array([0.01, 0.04, 0.0, 1.0]) + 1e-5))
    assert float(losses.log_mse_prediction_loss(predicted, target)) == pytest.approx(expected, rel=1e-5)
    # Halving the error of a frame lowers the loss by the same amount whatever its size: a small error
    # counts as much as a large one (unlike L2, where the large one decides).
    small = float(losses.log_mse_prediction_loss(target + offsets[:, :, None, None, None] * [[[[[0.5]]]], [[[[1.0]]]]],
                                                 target))
    assert small - float(losses.log_mse_prediction_loss(predicted, target)) == pytest.approx(
        (np.log(0.0025 + 1e-5) - np.log(0.01 + 1e-5) + np.log(0.01 + 1e-5) - np.log(0.04 + 1e-5)) / 4, rel=1e-4)
