"""videocore.optimizers.FusedAdam: the same updates as keras.optimizers.Adam, fused or not."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from videocore import optimizers


def _train(optimizer_class, start, steps=4, **kwargs):
    """`steps` updates of one (40, 7) variable from `start` with fixed gradients -> the final value."""
    variable = keras.Variable(start.copy())
    optimizer = optimizer_class(1e-2, **kwargs)
    optimizer.build([variable])
    step = tf.function(lambda gradient: optimizer.apply_gradients([(gradient, variable)]))
    for index in range(steps):
        step(tf.constant(np.cos(np.arange(280) * (index + 1)).reshape(40, 7), tf.float32))
    return variable.numpy()


@pytest.mark.parametrize("kwargs", [dict(beta_1=0.0, beta_2=0.9), dict(), dict(amsgrad=True)])
def test_fused_adam_updates_equal_keras_adam(kwargs):
    start = np.random.default_rng(3).normal(size=(40, 7)).astype(np.float32)
    expected = _train(keras.optimizers.Adam, start, **kwargs)
    assert np.abs(expected - start).max() > 1e-3  # the variable really moved
    np.testing.assert_allclose(_train(optimizers.FusedAdam, start, **kwargs), expected, atol=1e-6)


def test_this_keras_takes_the_fused_path():
    # The version check must not silently turn the fused kernel off on the Keras we pin.
    assert optimizers.KERAS_INTERNALS_KNOWN, keras.__version__

