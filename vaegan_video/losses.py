"""The dissertation's objectives (section 4.3) as pure functions: tensors in, float32 scalar out."""

import tensorflow as tf


def kl_divergence(mu, log_var, reduction="mean", clip=0.0):
    """L_KL = D_KL(q(z|x) || N(0, I)), eq. 4.8: -1/2 sum_i (1 + log sigma_i^2 - mu_i^2 - sigma_i^2).

    Eq. 4.8 is printed without its leading minus sign; this is the divergence itself (>= 0).
    mu, log_var: (B, latent_dim). reduction: "mean" averages over the batch and the latent
    dimensions (the scale of the per-element MSE in L_like); "sum" sums over the latent
    dimensions and averages over the batch (the textbook ELBO term). clip > 0 clips mu and
    log_var to [-clip, clip] first, as the released code does (with 5).
    """
    mu = tf.cast(mu, tf.float32)
    log_var = tf.cast(log_var, tf.float32)
    if clip:
        mu = tf.clip_by_value(mu, -clip, clip)
        log_var = tf.clip_by_value(log_var, -clip, clip)
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


def gan_terms_from_logits(logit_real, logit_reconstructed, logit_prior):
    """The three binary cross entropies of eq. 4.9 from Dis's pre-sigmoid logits, each a batch mean.

    -log sigmoid(l) = softplus(-l) and -log(1 - sigmoid(l)) = softplus(l) are finite and have a
    gradient for any logit, so a saturated discriminator (Dis ~ 1e-33) still learns, where the
    clipped logs of `gan_loss` are flat. logit_*: (B, 1). Returns (real, reconstructed, prior),
    float32 scalars >= 0.
    """
    real = tf.reduce_mean(tf.nn.softplus(-tf.cast(logit_real, tf.float32)))
    reconstructed = tf.reduce_mean(tf.nn.softplus(tf.cast(logit_reconstructed, tf.float32)))
    prior = tf.reduce_mean(tf.nn.softplus(tf.cast(logit_prior, tf.float32)))
    return real, reconstructed, prior


def gan_terms_released(dis_real, dis_reconstructed, dis_prior):
    """The released code's three cross entropies, each a batch mean, from Dis's sigmoid outputs:

        -log(clip(Dis(x), 1e-10, 1) + 1e-12) and -log(1 - clip(Dis(.), 1e-10, 1) + 1e-12).

    The clip is on Dis itself, not on 1 - Dis: a fake frame judged real with Dis = 1 costs
    -log(1e-12). dis_*: (B, 1) in [0, 1]. Returns (real, reconstructed, prior).
    """
    def clipped(p):
        return tf.clip_by_value(tf.cast(p, tf.float32), 1e-10, 1.0)

    real = tf.reduce_mean(-tf.math.log(clipped(dis_real) + 1e-12))
    reconstructed = tf.reduce_mean(-tf.math.log(1.0 - clipped(dis_reconstructed) + 1e-12))
    prior = tf.reduce_mean(-tf.math.log(1.0 - clipped(dis_prior) + 1e-12))
    return real, reconstructed, prior


def combine_gan_terms(real, reconstructed, prior, reduction="mean", batch_size=None):
    """L_GAN from its three terms. reduction "mean": their sum (eq. 4.9 with batch means);
    "released": the released code's (real + reconstructed + prior) / batch_size / 6 (each term
    divided by the batch size a second time, then the sum by 6).
    """
    total = real + reconstructed + prior
    if reduction == "mean":
        return total
    if reduction == "released":
        if not batch_size:
            raise ValueError("gan reduction 'released' needs the batch size")
        return total / float(batch_size) / 6.0
    raise ValueError(f"gan reduction must be 'mean' or 'released', got {reduction!r}")


def clip_objective(value, bounds):
    """An objective's value clipped to bounds = (low, high), section 6.2 as the released code does it.

    Outside the range the value is constant, so its network gets a zero gradient: the "error
    gradients clipped to a fixed range (0.00000001 - 100)" of 6.2 and why the decoder's
    objective had to be allowed negative ([-100, 100]) or it "becomes zero".
    """
    low, high = bounds
    return tf.clip_by_value(value, float(low), float(high))


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


def pixel_mse(x, x_reconstructed, reduction="mean"):
    """Plain pixel-wise squared error, the reconstruction error the learned similarity replaces.

    x, x_reconstructed: (B, H, W, C) in [-1, 1]. reduction: "mean" over batch and pixels (the
    scale of L_like^Dis, for comparison), or "sum" over each frame's H * W * C values, averaged
    over the batch (the textbook ELBO's log-likelihood term, as Neural Dream Videos' VAE sums it).
    """
    squared = tf.square(tf.cast(x, tf.float32) - tf.cast(x_reconstructed, tf.float32))
    if reduction == "mean":
        return tf.reduce_mean(squared)
    if reduction == "sum":
        return tf.reduce_mean(tf.reduce_sum(squared, axis=tf.range(1, tf.rank(squared))))
    raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")


def encoder_objective(kl, like):
    """Eq. 4.13: the encoder follows the gradient of L_KL + L_like."""
    return kl + like


def decoder_objective(like, gan, gamma):
    """Eq. 4.14: the decoder follows the gradient of gamma * L_like - L_GAN."""
    return gamma * like - gan


def discriminator_objective(gan):
    """Eq. 4.12: the discriminator follows the gradient of L_GAN."""
    return gan
