"""Losses of (Re)Live Photos as pure functions: Wasserstein critic / generator, gradient penalty, L2 prediction.

References: Arjovsky, Chintala, Bottou 2017, "Wasserstein GAN" (eq. 3, Algorithm 1); Gulrajani et al.
2017, "Improved Training of Wasserstein GANs" (eq. 3). Every loss returns a float32 scalar, the
mean over the batch, whatever dtype the networks computed in.
"""
import keras
import tensorflow as tf


def _float32(x):
    return tf.cast(x, tf.float32)


def wasserstein_critic_loss(real_scores, fake_scores):
    """Critic loss E[D(G(z))] - E[D(x)] (WGAN eq. 3, negated to be minimised); (B,) or (B, 1) -> scalar.

    Minimising it maximises the seed's "discriminator maximises E_P[D(x)] - E_z[D(g(z))]".
    """
    return tf.reduce_mean(_float32(fake_scores)) - tf.reduce_mean(_float32(real_scores))


def wasserstein_generator_loss(fake_scores):
    """Generator loss -E[D(G(z))] (WGAN eq. 3, the seed's "generator minimises"); (B,) or (B, 1) -> scalar."""
    return -tf.reduce_mean(_float32(fake_scores))


def interpolate(real, fake, epsilon):
    """x_hat = epsilon * real + (1 - epsilon) * fake (WGAN-GP Algorithm 1, line 6).

    real, fake: (B, ...) of one dtype; epsilon: (B,) in [0, 1], one per sample.
    """
    epsilon = tf.reshape(tf.cast(epsilon, real.dtype), [-1] + [1] * (len(real.shape) - 1))
    return fake + epsilon * (real - fake)


def gradient_norms(critic, inputs):
    """Per-sample L2 norms (B,) float32 of d critic(inputs) / d inputs, over all non-batch axes.

    critic: a callable (B, ...) -> (B,) or (B, 1) scores where sample i's score depends only on
    input i (no batch norm), so the gradient of the summed scores is each sample's own gradient.
    Differentiable (a tape around the call sees through it: the double backward of WGAN-GP).
    """
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        scores = _float32(critic(inputs))
    gradients = _float32(tape.gradient(scores, inputs))
    squares = tf.reduce_sum(tf.square(gradients), axis=list(range(1, len(inputs.shape))))
    # The tiny offset keeps the norm's derivative finite where a gradient is exactly zero.
    return tf.sqrt(squares + 1e-12)


def gradient_penalty(critic, interpolates):
    """WGAN-GP penalty E[(||grad D(x_hat)||_2 - 1)^2] (Gulrajani et al. eq. 3, without the lambda).

    critic: callable (B, ...) -> (B, 1) scores, without batch norm; interpolates: x_hat (B, ...),
    e.g. from `interpolate`. The norm is taken per sample over every non-batch axis (T, H, W, C
    for clips). Returns a float32 scalar >= 0.
    """
    return tf.reduce_mean(tf.square(gradient_norms(critic, interpolates) - 1.0))


def l2_prediction_loss(predicted, target):
    """Mean squared error between predicted and true next frames (the seed's L2 loss); any equal shapes."""
    return tf.reduce_mean(tf.square(_float32(predicted) - _float32(target)))


def log_mse_prediction_loss(predicted, target, floor=1e-5):
    """Mean over frames of log(the frame's mean squared error + floor): (B, T, H, W, C) -> scalar.

    Minus the mean per-frame PSNR up to a scale and a constant, so every frame counts by how much
    it improves relative to its own error: with plain L2 a fast pan, whose errors are ten times
    larger, decides what the predictor learns for every other clip. floor (about a sixth of one
    uint8 level squared, on [-1, 1] frames) keeps a frame that is already exact from dominating.
    """
    frame_errors = tf.reduce_mean(tf.square(_float32(predicted) - _float32(target)), axis=[2, 3, 4])
    return tf.reduce_mean(tf.math.log(frame_errors + floor))


PREDICTION_LOSSES = {"l2": l2_prediction_loss, "log_mse": log_mse_prediction_loss}


def clip_weights(weights, clip_value):
    """Weight clipping of the original WGAN (Arjovsky et al., Algorithm 1, line 7): every value into
    [-c, c]. weights: any tensor; clip_value: c > 0."""
    return tf.clip_by_value(weights, -clip_value, clip_value)


@keras.saving.register_keras_serializable(package="relive")
class WeightClip(keras.constraints.Constraint):
    """`clip_weights` as a Keras constraint: the optimizer applies it after every update of the variable."""

    def __init__(self, clip_value):
        if clip_value <= 0:
            raise ValueError(f"clip_value must be positive, got {clip_value}")
        self.clip_value = float(clip_value)

    def __call__(self, weights):
        return clip_weights(weights, self.clip_value)

    def get_config(self):
        return {"clip_value": self.clip_value}
