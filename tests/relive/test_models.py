"""relive networks: published sizes and parameter counts, critic normalisation, conditioning, LSTM causality."""
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from relive import configs
from relive import layers
from relive import losses
from relive import models
from relive import recurrent
from videocore import errors
from videocore import layers as videocore_layers


def _deconv_stack_params(kernel, channels, out_channels=3):
    """Transposed convolutions without bias, each followed by BN (4 values per channel), then RGB + bias."""
    volume = kernel ** 3
    count = 0
    for c_in, c_out in zip(channels, channels[1:]):
        count += volume * c_in * c_out + 4 * c_out
    return count + volume * channels[-1] * out_channels + out_channels


def expected_generator_params(config):
    gen = config.generator
    latent = math.prod(gen.latent_shape)
    channels = [gen.latent_shape[-1], *gen.filters]
    return gen.noise_dim * latent + 4 * gen.latent_shape[-1] + _deconv_stack_params(gen.kernel_size, channels)


def expected_critic_params(config, in_channels=3, batch_norm=False):
    spec = config.critic
    volume = spec.kernel_size ** 3
    channels = [in_channels, *spec.filters]
    count = 0
    for index, (c_in, c_out) in enumerate(zip(channels, channels[1:])):
        normalised = batch_norm and index > 0
        count += volume * c_in * c_out + (4 * c_out if normalised else c_out)
    latent = config.generator.latent_shape
    return count + math.prod(latent[:3]) * spec.filters[-1] + 1


def test_published_generator_and_critic_shapes_and_parameter_counts():
    config = configs.seed()
    assert tuple(config.generator.latent_shape) == (2, 4, 4, 512)
    generator = models.video_generator(config)
    assert generator.output_shape == (None, 32, 64, 64, 3)
    assert generator.count_params() == expected_generator_params(config) == 12_664_579
    clips = generator(tf.random.normal([2, config.generator.noise_dim]), training=False)
    assert clips.shape == (2, 32, 64, 64, 3)
    assert float(tf.reduce_max(tf.abs(clips))) <= 1.0  # tanh

    for penalty, batch_norm in (("clip", True), ("gradient", False)):
        config.critic.penalty = penalty
        critic = models.video_critic(config)
        assert critic.output_shape == (None, 1)
        assert critic.count_params() == expected_critic_params(config, batch_norm=batch_norm)
    assert critic(clips).shape == (2, 1)


def test_published_conditional_networks_and_predictor():
    config = configs.seed()
    encoder = models.photo_encoder(config)
    assert encoder.output_shape == (None, 2, 4, 4, 512)
    convolutions = [layer for layer in encoder.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convolutions) == 5  # "additional five layer encoder network"

    generator = models.conditional_generator(config)
    assert generator.output_shape == (None, 32, 64, 64, 3)
    critic = models.conditional_critic(config)
    assert critic.output_shape == (None, 1)
    # The middle frame is concatenated to the clip: 6 input channels to the first convolution.
    assert critic.get_layer("critic_conv1").kernel.shape == (4, 4, 4, 6, 64)
    assert critic.count_params() == expected_critic_params(config, in_channels=6, batch_norm=True)

    predictor = models.frame_predictor(config)
    assert predictor.lstm.units == 1024
    assert predictor.encoder.output_shape == (None, 1024)
    assert predictor.decoder.output_shape == (None, 64, 64, 3)
    units, filters = 1024, config.predictor.filters
    expected_lstm = 4 * (units * units * 2 + units)
    assert predictor.lstm.count_params() == expected_lstm
    assert predictor.encoder.count_params() == (
        sum(16 * c_in * c_out + c_out for c_in, c_out in zip([3, *filters], filters))
        + 4 * 4 * filters[-1] * units + units)
    frames = predictor(tf.zeros([1, 3, 64, 64, 3]))
    assert frames.shape == (1, 3, 64, 64, 3)


def test_critic_has_no_batch_norm_under_the_gradient_penalty():
    config = configs.quick()
    config.critic.penalty = "gradient"
    for build in (models.video_critic, models.conditional_critic):
        kinds = {type(layer) for layer in build(config).layers}
        assert not any(issubclass(kind, (videocore_layers.BatchNormalization, keras.layers.BatchNormalization))
                       for kind in kinds)
    config.critic.penalty = "clip"
    assert any(isinstance(layer, videocore_layers.BatchNormalization) for layer in models.video_critic(config).layers)
    config.critic.penalty = "gradient"
    config.critic.norm = "batch"
    with pytest.raises(errors.ConfigError, match="gradient"):
        models.video_critic(config)


def test_weight_clipping_puts_a_constraint_on_every_critic_weight():
    config = configs.quick()
    config.critic.penalty = "clip"
    critic = models.video_critic(config)
    assert all(variable.constraint is not None for variable in critic.trainable_variables)
    config.critic.penalty = "gradient"
    assert all(variable.constraint is None for variable in models.video_critic(config).trainable_variables)


def test_sizes_that_do_not_fit_the_latent_code_are_a_config_error():
    config = configs.quick()
    config.clip.num_frames = 12
    with pytest.raises(errors.ConfigError, match="latent"):
        models.video_generator(config)
    config = configs.quick()
    config.generator.filters = (16,)
    with pytest.raises(errors.ConfigError, match="generator.filters"):
        models.video_generator(config)


@pytest.mark.parametrize("frames", [8, 7])
def test_middle_frame_is_frame_t_over_2(frames):
    clips = tf.reshape(tf.range(frames, dtype=tf.float32), [1, frames, 1, 1, 1]) * tf.ones([2, frames, 4, 4, 3])
    assert np.all(models.middle_frame(clips).numpy() == frames // 2)


def test_conditional_networks_depend_on_the_photo():
    config = configs.quick()
    generator = models.conditional_generator(config)
    critic = models.conditional_critic(config)
    noise = tf.random.normal([2, config.generator.noise_dim], seed=1)
    photo_a = tf.random.uniform([2, 16, 16, 3], -1, 1, seed=2)
    photo_b = tf.random.uniform([2, 16, 16, 3], -1, 1, seed=3)
    clips_a = generator([photo_a, noise], training=False)
    clips_b = generator([photo_b, noise], training=False)
    assert clips_a.shape == (2, 8, 16, 16, 3)
    assert float(tf.reduce_max(tf.abs(clips_a - clips_b))) > 1e-4
    score_a, score_b = critic([clips_a, photo_a]), critic([clips_a, photo_b])
    assert float(tf.reduce_max(tf.abs(score_a - score_b))) > 1e-6


def test_predictor_teacher_forcing_is_causal_and_rollout_feeds_back_its_frames():
    config = configs.quick()
    predictor = models.frame_predictor(config)
    clips = tf.random.uniform([2, 6, 16, 16, 3], -1, 1, seed=4)
    predicted = predictor(clips).numpy()
    assert predicted.shape == (2, 6, 16, 16, 3)
    changed = tf.tensor_scatter_nd_update(clips, [[0, 3], [1, 3]], tf.zeros([2, 16, 16, 3]))
    predicted_changed = predictor(changed).numpy()
    # Output t predicts frame t + 1 from frames 0..t: a change at frame 3 reaches outputs 3.. only.
    np.testing.assert_array_equal(predicted[:, :3], predicted_changed[:, :3])
    assert np.abs(predicted[:, 3:] - predicted_changed[:, 3:]).max() > 1e-6

    photo = clips[:, 0]
    rollout = predictor.rollout(photo, 5).numpy()
    assert rollout.shape == (2, 5, 16, 16, 3)
    # Rolling out = teacher forcing on the photo followed by the model's own frames.
    fed_back = tf.concat([photo[:, None], rollout[:, :-1]], axis=1)
    np.testing.assert_allclose(predictor(fed_back).numpy(), rollout, atol=1e-5)


@pytest.mark.parametrize("shape", [(6, 5), (4, 3, 5, 7, 6)])
def test_fused_batch_norm_matches_keras_batch_norm(shape):
    inputs = tf.random.normal(shape, seed=5) * 3.0 + 1.0
    fused = videocore_layers.BatchNormalization(momentum=0.9, epsilon=1e-3)
    reference = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-3)
    np.testing.assert_allclose(fused(inputs, training=True), reference(inputs, training=True), atol=1e-4)
    count = np.prod(shape[:-1])
    np.testing.assert_allclose(fused.moving_mean.numpy(), reference.moving_mean.numpy(), atol=1e-5)
    # The fused kernel feeds the moving variance the unbiased batch variance.
    unbiased = 0.9 + 0.1 * np.var(inputs.numpy().reshape(-1, shape[-1]), axis=0) * count / (count - 1)
    np.testing.assert_allclose(fused.moving_variance.numpy(), unbiased, rtol=1e-4)
    moved = fused(inputs, training=False).numpy()
    expected = (inputs.numpy() - fused.moving_mean.numpy()) / np.sqrt(fused.moving_variance.numpy() + 1e-3)
    np.testing.assert_allclose(moved, expected, atol=1e-4)


def test_fused_batch_norm_keeps_bfloat16_activations():
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    inputs = tf.cast(2.0 + 3.0 * tf.random.stateless_normal([2, 4, 4, 4, 8], seed=(3, 4)), tf.bfloat16)
    try:
        norm = videocore_layers.BatchNormalization()
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            outputs = norm(inputs, training=True)
            loss = tf.reduce_sum(tf.cast(outputs, tf.float32) * tf.range(8, dtype=tf.float32))
    finally:
        keras.mixed_precision.set_global_policy(previous)
    assert outputs.dtype == tf.bfloat16
    assert tape.gradient(loss, inputs).dtype == tf.bfloat16  # backwards in bf16 too
    assert norm.gamma.dtype == "float32" and norm.moving_mean.dtype == "float32"
    # The values: each channel normalised with its batch statistics, to bf16 precision (8 bits: ~0.4 %).
    x = inputs.numpy().astype(np.float64).reshape(-1, 8)
    expected = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + 1e-3)
    np.testing.assert_allclose(outputs.numpy().astype(np.float64).reshape(-1, 8), expected, atol=0.03)
    np.testing.assert_allclose(norm.moving_mean.numpy(), 0.01 * x.mean(axis=0), rtol=1e-2)


def test_pixel_convolutions_match_keras_layers_with_first_and_second_derivatives():
    x = tf.random.normal([2, 4, 8, 6, 3], seed=8)
    plain = keras.layers.Conv3D(5, 4, strides=2, padding="same")
    blocks = layers.PixelConv3D(5, 4, strides=2, padding="same")
    plain.build(x.shape)
    blocks.build(x.shape)
    blocks.set_weights([tf.random.normal(blocks.kernel.shape, seed=9).numpy(), np.arange(5, dtype=np.float32)])
    plain.set_weights(blocks.get_weights())
    assert blocks.count_params() == plain.count_params()
    np.testing.assert_allclose(blocks(x), plain(x), atol=1e-4)

    def penalty_and_gradient(layer):
        with tf.GradientTape() as outer:
            penalty = losses.gradient_penalty(lambda v: tf.reduce_sum(tf.tanh(layer(v)), axis=[1, 2, 3, 4]), x)
        return penalty, outer.gradient(penalty, layer.kernel)

    (p_blocks, g_blocks), (p_plain, g_plain) = penalty_and_gradient(blocks), penalty_and_gradient(plain)
    assert float(p_blocks) == pytest.approx(float(p_plain), rel=1e-4)
    np.testing.assert_allclose(g_blocks, g_plain, atol=1e-3 * float(tf.reduce_max(tf.abs(g_plain))))

    h = tf.random.normal([2, 2, 3, 4, 6], seed=10)
    plain_t = keras.layers.Conv3DTranspose(3, 4, strides=2, padding="same")
    blocks_t = layers.PixelConv3DTranspose(3, 4, strides=2, padding="same")
    plain_t.build(h.shape)
    blocks_t.build(h.shape)
    plain_t.set_weights(blocks_t.get_weights())
    target = tf.random.normal([2, 4, 6, 8, 3], seed=11)

    def loss_and_gradients(layer):
        with tf.GradientTape() as tape:
            tape.watch(h)
            output = layer(h)
            loss = tf.reduce_sum(tf.square(output - target))
        return output, tape.gradient(loss, [h, layer.kernel])

    (out_b, grads_b), (out_p, grads_p) = loss_and_gradients(blocks_t), loss_and_gradients(plain_t)
    np.testing.assert_allclose(out_b, out_p, atol=1e-4)
    for got, want in zip(grads_b, grads_p):
        np.testing.assert_allclose(got, want, atol=1e-4 * float(tf.reduce_max(tf.abs(want))))


def test_residual_predictor_starts_from_copying_the_current_frame():
    config = configs.quick()
    config.predictor.residual = True
    predictor = models.frame_predictor(config)
    last = predictor.decoder.layers[-2]  # the RGB deconvolution before tanh
    last.set_weights([np.zeros_like(w) for w in last.get_weights()])
    clips = tf.random.uniform([2, 4, 16, 16, 3], -1, 1, seed=12)
    np.testing.assert_allclose(predictor(clips).numpy(), clips.numpy(), atol=1e-6)
    rollout = predictor.rollout(clips[:, 0], 3).numpy()
    np.testing.assert_allclose(rollout, np.repeat(clips.numpy()[:, :1], 3, axis=1), atol=1e-6)


def test_leaky_relu_matches_keras_with_second_derivatives():
    x = tf.random.normal([3, 4, 4, 4, 2], seed=13)
    conv = keras.layers.Conv3D(4, 3, padding="same")
    conv.build(x.shape)
    results = []
    for activation in (layers.LeakyReLU(0.2), keras.layers.LeakyReLU(0.2)):
        def critic(v):
            return tf.reduce_sum(activation(conv(v)) ** 2, axis=[1, 2, 3, 4])

        with tf.GradientTape() as tape:
            penalty = losses.gradient_penalty(critic, x)
        results.append((activation(x), penalty, tape.gradient(penalty, conv.kernel)))
    (values, penalty, gradient), (keras_values, keras_penalty, keras_gradient) = results
    np.testing.assert_allclose(values, keras_values, rtol=1e-6)
    assert float(penalty) == pytest.approx(float(keras_penalty), rel=1e-5)
    np.testing.assert_allclose(gradient, keras_gradient, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("transpose", [False, True])
def test_small_map_convolutions_match_keras_layers_and_their_gradients(transpose):
    inputs = tf.random.normal([3, 8, 6, 5], seed=14)
    if transpose:
        plain, fast = keras.layers.Conv2DTranspose(4, 4, 2, "same"), layers.SmallMapConv2DTranspose(4, 4, 2, "same")
    else:
        plain, fast = keras.layers.Conv2D(4, 4, 2, "same"), layers.SmallMapConv2D(4, 4, 2, "same")
    plain.build(inputs.shape)
    fast.build(inputs.shape)
    fast.set_weights([tf.random.normal(fast.kernel.shape, seed=15).numpy(), np.arange(4, dtype=np.float32)])
    plain.set_weights(fast.get_weights())
    results = []
    for layer in (fast, plain):
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            outputs = layer(inputs)
            loss = tf.reduce_sum(tf.sin(outputs))
        results.append([outputs, *tape.gradient(loss, [inputs, layer.kernel, layer.bias])])
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * float(tf.reduce_max(tf.abs(want))))


def test_lstm_matches_keras_lstm_with_gradients_and_stays_close_in_bfloat16():
    inputs = tf.random.normal([3, 6, 7], seed=16)
    state = [tf.random.normal([3, 4], seed=17), tf.random.normal([3, 4], seed=18)]
    reference = keras.layers.LSTM(4, return_sequences=True, return_state=True)
    reference.build((None, None, 7))
    ours = recurrent.LSTM(4)
    ours.build((None, None, 7))
    assert [w.shape for w in ours.weights] == [w.shape for w in reference.weights]
    np.testing.assert_array_equal(ours.bias.numpy()[4:8], 1.0)  # unit forget bias
    ours.set_weights(reference.get_weights())

    def run(layer, cast=tf.float32):
        with tf.GradientTape() as tape:
            tape.watch([inputs, *state])
            outputs, hidden, cell = layer(tf.cast(inputs, cast), initial_state=state)
            loss = tf.reduce_sum(tf.cast(outputs, tf.float32) ** 2) + tf.reduce_sum(hidden) + tf.reduce_sum(cell ** 2)
        return [outputs, hidden, cell, *tape.gradient(loss, [inputs, *state, *layer.trainable_variables])]

    for got, want in zip(run(ours), run(reference)):
        np.testing.assert_allclose(got, want, atol=2e-6)
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        mixed = recurrent.LSTM(4)
        mixed.build((None, None, 7))
    finally:
        keras.mixed_precision.set_global_policy(previous)
    mixed.set_weights(reference.get_weights())
    got, want = run(mixed, tf.bfloat16), run(reference)
    assert got[0].dtype == tf.float32  # the state and outputs stay float32
    for index in (0, 1, 2, 6, 7, 8):  # outputs, states, weight gradients
        assert float(tf.reduce_max(tf.abs(tf.cast(got[index], tf.float32) - want[index]))) <= 0.02 * float(
            tf.reduce_max(tf.abs(want[index]))) + 1e-3
