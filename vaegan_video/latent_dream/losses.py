"""Losses of the latent sequence model: L2 on the next latent, or a mixture density's negative log-likelihood."""

import math

import tensorflow as tf


def masked_mean(values, mask):
    """Mean of values (B, T) over the entries where mask (B, T) is 1 (0 when there are none)."""
    mask = tf.cast(mask, tf.float32)
    return tf.reduce_sum(tf.cast(values, tf.float32) * mask) / tf.maximum(tf.reduce_sum(mask), 1.0)


def l2_loss(prediction, target, mask, reduction="mean"):
    """The blog post's L2 loss: mean over valid steps of ||z_hat_{t+1} - z_{t+1}||^2, divided by D
    with reduction "mean", not with "sum" (the notebook's: summed over dimensions, averaged over
    batch and time).

    prediction, target: (B, T, D); mask: (B, T) 1 where the pair (z_t, z_{t+1}) is real. Scalar.
    """
    if reduction not in ("mean", "sum"):
        raise ValueError(f"l2 reduction must be 'mean' or 'sum', got {reduction!r}")
    squared = tf.square(tf.cast(prediction, tf.float32) - tf.cast(target, tf.float32))
    per_step = tf.reduce_mean(squared, axis=-1) if reduction == "mean" else tf.reduce_sum(squared, axis=-1)
    return masked_mean(per_step, mask)


def mixture_log_likelihood(logits, means, log_sigmas, target):
    """log p(z_{t+1}) under a mixture of K diagonal Gaussians over the whole latent vector, (B, T).

    p(z) = sum_k pi_k prod_d N(z_d; m_kd, s_kd^2), pi = softmax(logits) (Bishop 1994's mixture
    density network, with vector-valued kernels; World Models factorises the mixture per dimension
    instead, which cannot say "every dimension jumps together", as at a cut). log-sum-exp for
    stability: log p = logsumexp_k [log pi_k + sum_d (-(z_d - m_kd)^2 / (2 s_kd^2) - log s_kd
    - log(2 pi) / 2)]. logits (B, T, K), means / log_sigmas (B, T, K, D), target (B, T, D).
    """
    logits, means, log_sigmas, target = (tf.cast(t, tf.float32) for t in (logits, means, log_sigmas, target))
    standardised = (target[:, :, None, :] - means) * tf.exp(-log_sigmas)
    per_dim = -0.5 * tf.square(standardised) - log_sigmas - 0.5 * math.log(2.0 * math.pi)
    component = tf.nn.log_softmax(logits, axis=-1) + tf.reduce_sum(per_dim, axis=-1)
    return tf.reduce_logsumexp(component, axis=-1)


def mixture_nll(logits, means, log_sigmas, target, mask):
    """Negative log-likelihood of z_{t+1} (the MDN-RNN's loss), in nats per latent dimension.

    Mean over valid steps of -mixture_log_likelihood / D; dividing by D keeps the scale, and so
    the learning rate, the same across latent sizes. Scalar.
    """
    dim = tf.cast(tf.shape(target)[-1], tf.float32)
    return masked_mean(-mixture_log_likelihood(logits, means, log_sigmas, target) / dim, mask)


def loss(outputs, target, mask, l2_reduction="mean"):
    """The model's training loss for either head (l2_loss with `l2_reduction`, or mixture_nll)."""
    if "prediction" in outputs:
        return l2_loss(outputs["prediction"], target, mask, l2_reduction)
    return mixture_nll(outputs["logits"], outputs["means"], outputs["log_sigmas"], target, mask)
