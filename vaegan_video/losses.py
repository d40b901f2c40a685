"""The dissertation's objectives (section 4.3) as pure functions: tensors in, float32 scalar out."""

import tensorflow as tf


def kl_divergence(mu, log_var, reduction="mean"):
    """L_KL = D_KL(q(z|x) || N(0, I)), eq. 4.8: -1/2 sum_i (1 + log sigma_i^2 - mu_i^2 - sigma_i^2).

    Eq. 4.8 is printed without its leading minus sign; this is the divergence itself (>= 0).
    mu, log_var: (B, latent_dim). reduction: "mean" averages over the batch and the latent
    dimensions (the scale of the per-element MSE in L_like); "sum" sums over the latent
    dimensions and averages over the batch (the textbook ELBO term).
    """
    mu = tf.cast(mu, tf.float32)
    log_var = tf.cast(log_var, tf.float32)
    per_element = -0.5 * (1.0 + log_var - tf.square(mu) - tf.exp(log_var))
    if reduction == "mean":
        return tf.reduce_mean(per_element)
    if reduction == "sum":
        return tf.reduce_mean(tf.reduce_sum(per_element, axis=-1))
    raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")


def _clipped_log(p, clip_min):
    return tf.math.log(tf.clip_by_value(tf.cast(p, tf.float32), clip_min, 1.0))


def gan_loss(dis_real, dis_reconstructed, dis_prior, clip_min=1e-8):
    """L_GAN, eq. 4.9, as the binary cross entropy the discriminator minimises (eq. 4.12):

        -[log Dis(x) + log(1 - Dis(x_bar)) + log(1 - Dis(x_p))], each term averaged over the batch.

    dis_*: (B, 1) sigmoid outputs in [0, 1]. As in the dissertation (section 6.2, footnote 3),
    the arguments of the logs are clipped to [clip_min, 1] so a confident mistake cannot give
    log(0) and a NaN. The decoder minimises gamma * L_like - L_GAN (eq. 4.14).
    """
    real = tf.reduce_mean(_clipped_log(dis_real, clip_min))
    reconstructed = tf.reduce_mean(_clipped_log(1.0 - tf.cast(dis_reconstructed, tf.float32), clip_min))
    prior = tf.reduce_mean(_clipped_log(1.0 - tf.cast(dis_prior, tf.float32), clip_min))
    return -(real + reconstructed + prior)


def learned_similarity(features_real, features_reconstructed):
    """L_like^Dis, eq. 4.11: the mean over the n observed discriminator layers of the Gaussian
    observation model N(Dis_l(x) | Dis_l(x_bar), I), computed (footnote 3) as the mean squared
    error between the layer's activations for x and for x_bar.

    features_*: lists of n tensors (B, h_l, w_l, c_l), one per conv layer.
    """
    if len(features_real) != len(features_reconstructed) or not features_real:
        raise ValueError("need the same non-zero number of layers for x and x_bar")
    errors = [tf.reduce_mean(tf.square(tf.cast(a, tf.float32) - tf.cast(b, tf.float32)))
              for a, b in zip(features_real, features_reconstructed)]
    return tf.add_n(errors) / float(len(errors))


def pixel_mse(x, x_reconstructed):
    """Plain pixel-wise MSE, the reconstruction error the learned similarity replaces (for comparison)."""
    return tf.reduce_mean(tf.square(tf.cast(x, tf.float32) - tf.cast(x_reconstructed, tf.float32)))


def encoder_objective(kl, like):
    """Eq. 4.13: the encoder follows the gradient of L_KL + L_like."""
    return kl + like


def decoder_objective(like, gan, gamma):
    """Eq. 4.14: the decoder follows the gradient of gamma * L_like - L_GAN."""
    return gamma * like - gan


def discriminator_objective(gan):
    """Eq. 4.12: the discriminator follows the gradient of L_GAN."""
    return gan
