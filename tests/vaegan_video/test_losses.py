"""The objectives (eqs. 4.8-4.14) against numpy on fixed tensors: values, reductions, clipping."""

import numpy as np
import pytest
import tensorflow as tf

from vaegan_video import losses


def test_kl_against_numpy():
    mu = np.array([[0.5, -0.2, 0.0], [0.1, 0.3, -0.7]], np.float32)
    log_var = np.array([[0.0, -0.5, 0.4], [0.2, -0.1, 0.0]], np.float32)
    per_element = -0.5 * (1 + log_var - mu**2 - np.exp(log_var))
    assert losses.kl_divergence(mu, log_var).numpy() == pytest.approx(per_element.mean(), rel=1e-6)
    assert losses.kl_divergence(mu, log_var, reduction="sum").numpy() == pytest.approx(
        per_element.sum(axis=1).mean(), rel=1e-6)
    # The prior itself has zero divergence; anything else has more.
    assert losses.kl_divergence(np.zeros((2, 3)), np.zeros((2, 3))).numpy() == 0.0
    assert losses.kl_divergence(mu, log_var).numpy() > 0
    # A hand value: mu = 1, sigma = 1 -> 0.5 * mu^2 = 0.5.
    assert losses.kl_divergence([[1.0]], [[0.0]]).numpy() == pytest.approx(0.5)
    with pytest.raises(ValueError):
        losses.kl_divergence(mu, log_var, reduction="max")


def test_gan_loss_against_numpy_and_clipping():
    real = np.array([[0.9], [0.6]], np.float32)
    bar = np.array([[0.2], [0.4]], np.float32)
    prior = np.array([[0.1], [0.3]], np.float32)
    expected = -(np.log(real).mean() + np.log(1 - bar).mean() + np.log(1 - prior).mean())
    assert losses.gan_loss(real, bar, prior).numpy() == pytest.approx(expected, rel=1e-6)
    # A perfectly wrong discriminator: log(0) would be -inf; the clip gives -log(1e-8) per term.
    worst = losses.gan_loss(np.zeros((2, 1)), np.ones((2, 1)), np.ones((2, 1))).numpy()
    assert np.isfinite(worst) and worst == pytest.approx(-3 * np.log(1e-8), rel=1e-5)
    # A perfect discriminator has zero loss.
    assert losses.gan_loss(np.ones((2, 1)), np.zeros((2, 1)), np.zeros((2, 1))).numpy() == pytest.approx(0.0)


def test_learned_similarity_is_the_mean_over_layers_of_each_layers_mse():
    rng = np.random.default_rng(0)
    shapes = [(2, 8, 8, 3), (2, 4, 4, 5), (2, 2, 2, 7), (2, 1, 1, 9)]
    a = [rng.normal(size=s).astype(np.float32) for s in shapes]
    b = [rng.normal(size=s).astype(np.float32) for s in shapes]
    expected = np.mean([np.mean((x - y) ** 2) for x, y in zip(a, b)])
    assert losses.learned_similarity(a, b).numpy() == pytest.approx(expected, rel=1e-6)
    # Not the MSE over all elements pooled together (layers weigh the same whatever their size).
    pooled = np.mean(np.concatenate([((x - y) ** 2).ravel() for x, y in zip(a, b)]))
    assert abs(expected - pooled) > 1e-3
    assert losses.learned_similarity(a, a).numpy() == 0.0
    with pytest.raises(ValueError):
        losses.learned_similarity(a, b[:3])


def test_objectives_combine_as_eqs_4_12_to_4_14():
    kl, like, gan = tf.constant(0.3), tf.constant(1.5), tf.constant(2.0)
    assert losses.encoder_objective(kl, like).numpy() == pytest.approx(1.8)
    assert losses.decoder_objective(like, gan, gamma=2.5).numpy() == pytest.approx(2.5 * 1.5 - 2.0)
    assert losses.discriminator_objective(gan).numpy() == pytest.approx(2.0)


def test_losses_are_float32_scalars_from_bfloat16_inputs():
    mu = tf.constant([[0.5, -0.25]], tf.bfloat16)
    value = losses.kl_divergence(mu, tf.zeros_like(mu))
    assert value.dtype == tf.float32 and value.shape == ()
    assert losses.pixel_mse(tf.zeros((1, 2, 2, 3), tf.bfloat16), tf.ones((1, 2, 2, 3))).numpy() == 1.0


def test_pixel_error_summed_per_frame_then_averaged_over_the_batch():
    # Frame 0 is off by 0.5 in one of its 12 values, frame 1 by 1.0 in two of them.
    x = np.zeros((2, 2, 2, 3), np.float32)
    x_bar = x.copy()
    x_bar[0, 0, 0, 0] = 0.5
    x_bar[1, 1, 1, 2] = x_bar[1, 0, 1, 1] = -1.0
    assert losses.pixel_mse(x, x_bar, reduction="sum").numpy() == pytest.approx((0.25 + 2.0) / 2)
    assert losses.pixel_mse(x, x_bar).numpy() == pytest.approx(2.25 / 24)
    with pytest.raises(ValueError, match="reduction"):
        losses.pixel_mse(x, x_bar, reduction="median")


def test_cross_entropies_from_logits_equal_the_logs_and_stay_finite():
    logits = np.array([[2.0], [-1.0]], np.float32)
    p = 1 / (1 + np.exp(-logits))
    real, bar, prior = losses.gan_terms_from_logits(logits, -logits, logits)
    assert real.numpy() == pytest.approx(-np.log(p).mean(), rel=1e-6)
    assert bar.numpy() == pytest.approx(-np.log(1 - (1 - p)).mean(), rel=1e-6)
    assert prior.numpy() == pytest.approx(-np.log(1 - p).mean(), rel=1e-6)
    # A Dis of ~1e-35 on a real frame: the clipped log is stuck at -log(1e-8) with no gradient, the logit form
    # gives the true cost and a gradient of -1 per frame.
    saturated = tf.constant([[-80.0]])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(saturated)
        from_logits = losses.gan_terms_from_logits(saturated, -saturated, -saturated)[0]
        clipped = losses.gan_loss(tf.sigmoid(saturated), tf.zeros((1, 1)), tf.zeros((1, 1)))
    assert from_logits.numpy() == pytest.approx(80.0)
    assert tape.gradient(from_logits, saturated).numpy() == pytest.approx(-1.0)
    assert tape.gradient(clipped, saturated).numpy() == 0.0


def test_released_gan_terms_and_reduction_against_numpy():
    d = np.array([[0.9], [0.0], [1.0], [0.3]], np.float32)
    real, bar, prior = (t.numpy() for t in losses.gan_terms_released(d, d, 1 - d))
    clipped = np.clip(d, 1e-10, 1)
    assert real == pytest.approx(np.mean(-np.log(clipped + 1e-12)), rel=1e-5)
    # The clip acts on Dis, not on 1 - Dis: Dis = 1 on a fake frame costs -log(1e-12).
    assert bar == pytest.approx(np.mean(-np.log(1 - clipped + 1e-12)), rel=1e-5) and bar > -np.log(1e-12) / 4 - 1
    assert prior == pytest.approx(np.mean(-np.log(1 - np.clip(1 - d, 1e-10, 1) + 1e-12)), rel=1e-5)
    terms = [tf.constant(v) for v in (1.0, 2.0, 3.0)]
    assert losses.combine_gan_terms(*terms).numpy() == 6.0
    assert losses.combine_gan_terms(*terms, reduction="released", batch_size=12).numpy() == pytest.approx(6.0 / 12 / 6)
    with pytest.raises(ValueError):
        losses.combine_gan_terms(*terms, reduction="released")


def test_kl_clip_and_objective_clip():
    mu, log_var = np.array([[7.0, 0.1]], np.float32), np.array([[-9.0, 0.2]], np.float32)
    clipped = np.clip(mu, -5, 5), np.clip(log_var, -5, 5)
    per_element = -0.5 * (1 + clipped[1] - clipped[0] ** 2 - np.exp(clipped[1]))
    assert losses.kl_divergence(mu, log_var, clip=5.0).numpy() == pytest.approx(per_element.mean(), rel=1e-6)
    value = tf.Variable(150.0)
    with tf.GradientTape(persistent=True) as tape:
        above = losses.clip_objective(value * 1.0, (-100, 100))
        inside = losses.clip_objective(value * 0.5, (-100, 100))
    assert above.numpy() == 100.0 and tape.gradient(above, value).numpy() == 0.0
    assert inside.numpy() == 75.0 and tape.gradient(inside, value).numpy() == 0.5
