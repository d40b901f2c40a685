"""The three networks at the dissertation's published size: shapes and parameter counts."""

import keras
import numpy as np
import pytest

from vaegan_video import configs
from vaegan_video import models


@pytest.fixture(scope="module")
def published():
    keras.mixed_precision.set_global_policy("float32")
    config = configs.dissertation()
    return config, models.build(config)


def test_encoder_at_published_size(published):
    config, nets = published
    encoder = nets["encoder"]
    assert encoder.input_shape == (None, 144, 256, 3)
    assert [tuple(o.shape) for o in encoder.outputs] == [(None, 200), (None, 200)]
    convs = [l for l in encoder.layers if isinstance(l, keras.layers.Conv2D)]
    # Table 1 (row 3 corrected to 32x18): 128x72x80, 64x36x160, 32x18x320, 16x9x640.
    assert [tuple(l.output.shape[1:]) for l in convs] == [(72, 128, 80), (36, 64, 160), (18, 32, 320), (9, 16, 640)]
    assert [l.kernel_size for l in convs] == [(5, 5)] * 4 and [l.strides for l in convs] == [(2, 2)] * 4
    # 5x5 convs 3->80->160->320->640 (no bias: BatchNorm follows), 4 BN vectors each,
    # two dense 92160 -> 200 with bias (mu and log sigma^2).
    convs_params = 25 * (3 * 80 + 80 * 160 + 160 * 320 + 320 * 640)
    assert encoder.count_params() == convs_params + 4 * 1200 + 2 * (16 * 9 * 640 * 200 + 200) == 43_595_200


def test_decoder_at_published_size(published):
    _, nets = published
    decoder = nets["decoder"]
    assert decoder.input_shape == (None, 200)
    assert decoder.output_shape == (None, 144, 256, 3)
    deconvs = [l for l in decoder.layers if isinstance(l, keras.layers.Conv2DTranspose)]
    # Table 2 (row 3 corrected to 160 filters): 32x18x320, 64x36x160, 128x72x80, 256x144x3.
    assert [tuple(l.output.shape[1:]) for l in deconvs] == [(18, 32, 320), (36, 64, 160), (72, 128, 80),
                                                             (144, 256, 3)]
    expected = 200 * 92160 + 4 * 640 + 25 * (640 * 320 + 320 * 160 + 160 * 80) + 4 * (320 + 160 + 80) + 25 * 80 * 3 + 3
    assert decoder.count_params() == expected == 25_162_803
    assert decoder.layers[-1].activation.__name__ == "tanh"


def test_discriminator_at_published_size(published):
    _, nets = published
    dis = nets["discriminator"]
    shapes = [tuple(o.shape) for o in dis.outputs]
    assert shapes == [(None, 72, 128, 80), (None, 36, 64, 160), (None, 18, 32, 320), (None, 9, 16, 640), (None, 1)]
    assert dis.count_params() == 25 * (3 * 80 + 80 * 160 + 160 * 320 + 320 * 640) + 4 * 1200 + 92160 + 1 == 6_822_961


def test_forward_shapes_and_ranges_on_a_small_config():
    config = configs.tiny()
    nets = models.build(config)
    x = np.random.default_rng(0).uniform(-1, 1, (3, 32, 32, 3)).astype(np.float32)
    mu, log_var = nets["encoder"](x)
    assert mu.shape == log_var.shape == (3, 16)
    assert np.abs(mu).max() <= 1 and np.abs(log_var).max() <= 1
    frames = nets["decoder"](mu).numpy()
    assert frames.shape == (3, 32, 32, 3) and np.abs(frames).max() <= 1
    *features, logit = nets["discriminator"](x)
    assert len(features) == 4 and logit.shape == (3, 1) and logit.dtype == "float32"
    assert nets["discriminator"].layers[-1].activation.__name__ == "linear"  # the logit, sigmoid left to the loss


def test_sizes_must_fit_the_strides():
    config = configs.tiny()
    config.model.height = 30
    with pytest.raises(ValueError, match="divisible by 16"):
        models.build(config)


def test_released_code_layers():
    """No BN after the first conv of Enc and Dis, LeakyReLU 0.2, BN epsilon 1e-5, N(0, 0.02) weights."""
    keras.mixed_precision.set_global_policy("float32")
    keras.utils.set_random_seed(0)
    config = configs.released_code()
    nets = models.build(config)
    for name in ("encoder", "discriminator"):
        network = nets[name]
        convs = [l for l in network.layers if isinstance(l, keras.layers.Conv2D)]
        following = [network.layers[network.layers.index(c) + 1] for c in convs]
        assert isinstance(following[0], keras.layers.LeakyReLU), name  # conv 1: straight to the activation
        assert convs[0].use_bias and not any(c.use_bias for c in convs[1:])
        assert all(isinstance(l, models.BatchNormalization) for l in following[1:]), name
        slopes = {l.negative_slope for l in network.layers if isinstance(l, keras.layers.LeakyReLU)}
        assert len(slopes) == 1 and slopes.pop() == pytest.approx(0.2)
        kernels = np.concatenate([c.kernel.numpy().ravel() for c in convs])
        # Truncated at 2 stddev: the sample's stddev is 0.88 x 0.02.
        assert np.abs(kernels).max() <= 0.04 + 1e-7 and 0.016 < kernels.std() < 0.019
        assert not convs[0].bias.numpy().any()
    dense = nets["encoder"].get_layer("enc_mu").kernel.numpy()
    assert 0.019 < dense.std() < 0.021 and np.abs(dense).max() > 0.04  # plain normal, not truncated
    norms = [l for net in nets.values() for l in net.layers if isinstance(l, models.BatchNormalization)]
    assert len(norms) == 3 + 4 + 3  # Enc 2-4, Dec projection + 3 deconvs, Dis 2-4
    assert all(l.epsilon == pytest.approx(1e-5, rel=1e-3) for l in norms)
    gammas = np.concatenate([l.gamma.numpy() for l in norms])
    assert abs(gammas.mean() - 1) < 0.002 and 0.018 < gammas.std() < 0.022
    # The dissertation's tables: BN on every conv, Keras' initialisers.
    text = models.build(configs.dissertation())
    assert isinstance(text["encoder"].get_layer("enc1_conv"), keras.layers.Conv2D)
    assert "enc1_bn" in [l.name for l in text["encoder"].layers] and "dis1_bn" in [l.name for l in text["discriminator"].layers]


def test_released_log_var_is_half_a_tanh_and_batch_statistics_hold_when_reconstructing():
    keras.mixed_precision.set_global_policy("float32")
    config = configs.tiny()
    config.model.log_var_scale = 0.5
    config.model.batchnorm_statistics = "batch"
    encoder = models.encoder(config.model)
    x = np.random.default_rng(0).uniform(-1, 1, (6, 32, 32, 3)).astype(np.float32)
    mu, log_var = encoder(x, training=True)
    assert np.abs(log_var.numpy()).max() <= 0.5
    # Batch statistics: the same outputs in and out of training; moving averages would differ.
    np.testing.assert_allclose(encoder(x, training=False)[0].numpy(), mu.numpy(), rtol=1e-5, atol=1e-6)
    config.model.batchnorm_statistics = "moving"
    moving = models.encoder(config.model)
    assert not np.allclose(moving(x, training=False)[0].numpy(), moving(x, training=True)[0].numpy(), atol=1e-4)
