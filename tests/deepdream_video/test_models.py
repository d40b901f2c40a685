"""The folded InceptionV3: same activations as the Keras model, cut where asked, published size."""
import keras
import numpy as np
import pytest
import skimage.data
import tensorflow as tf

from deepdream_video import models
from deepdream_video import modes


@pytest.fixture(scope="module")
def cat():
    return modes.to_float(skimage.data.chelsea())[:160, 100:340]  # (160, 240, 3) in [-1, 1]


def test_folded_network_matches_keras_with_real_weights(inception, cat):
    net = models.DreamNet(inception, ["mixed3", "mixed1"])
    reference = keras.Model(inception.input, [inception.get_layer("mixed3").output,
                                              inception.get_layer("mixed1").output])(cat[None])
    for expected, folded in zip(reference, net(cat[None])):
        assert folded.shape == expected.shape
        np.testing.assert_allclose(folded.numpy(), expected.numpy(), atol=2e-4 * float(np.abs(expected).max()))
    # bfloat16 keeps the values to bf16's ~3 significant digits.
    bf16 = models.DreamNet(inception, ["mixed3"], "bfloat16")(cat[None])[0].numpy()
    assert np.abs(bf16 - reference[0].numpy()).mean() < 0.02 * np.abs(reference[0].numpy()).mean()


def test_network_is_cut_at_the_deepest_dream_layer(inception):
    shallow = models.DreamNet(inception, ["mixed0"])
    deep = models.DreamNet(inception, ["mixed5", "mixed0"])
    assert len(shallow._ops) < len(deep._ops)
    assert {op.name for op in deep._ops} >= {"mixed0", "mixed5"} and "mixed6" not in {op.name for op in deep._ops}
    assert deep.channels("mixed5") == 768 and deep.channels("mixed0") == 256
    assert deep.stride() == 16 and shallow.stride() == 8


def test_full_network_at_published_size_has_keras_shapes_and_parameters(inception):
    net = models.DreamNet(inception, ["mixed10"])
    output = net(tf.zeros([1, 299, 299, 3]))[0]
    assert output.shape == (1, 8, 8, 2048)
    assert net.output_size("mixed10", 299, 299) == (8, 8)
    # Folding keeps the kernels and turns each BN's (beta, mean, variance) into one bias.
    folded = sum(int(np.prod(array.shape)) for weights in filter(None, net._constants)
                 for array in weights if array is not None)
    channels = sum(op.channels for op in net._ops if op.kind == "conv")
    assert inception.count_params() == 21_802_784
    assert folded == inception.count_params() - 2 * channels


def test_min_side_table_matches_the_network(inception):
    from deepdream_video import layers

    net = models.DreamNet(inception, layers.INCEPTION_V3_LAYERS)
    for name, side in layers.MIN_SIDE.items():
        assert min(net.output_size(name, side, side)) == 1, name  # the least input with an activation
        assert min(net.output_size(name, side - 1, side - 1)) < 1, name
