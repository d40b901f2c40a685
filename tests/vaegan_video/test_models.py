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
    *features, probability = nets["discriminator"](x)
    assert len(features) == 4 and probability.shape == (3, 1)
    assert ((0 <= probability.numpy()) & (probability.numpy() <= 1)).all()


def test_sizes_must_fit_the_strides():
    config = configs.tiny()
    config.model.height = 30
    with pytest.raises(ValueError, match="divisible by 16"):
        models.build(config)
