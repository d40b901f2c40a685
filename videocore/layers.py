"""Layers the Keras set lacks or makes slow here: a BatchNormalization that stays in bf16.

Keras 3's BatchNormalization casts bf16 activations to float32 and back around every use, so
under `mixed_bfloat16` each conv is wrapped in dtype conversions (../shared/DESIGN.md). This one
calls TensorFlow's fused batch-norm kernel, which takes bf16 activations with float32
statistics, scale and offset (oneDNN on CPU, cuDNN on GPU): measured here on a (12, 72, 128, 80)
tensor, forward + backward 12 ms against 46 ms for Keras' layer.
"""

import keras
import numpy as np
import tensorflow as tf

from videocore import device


@keras.saving.register_keras_serializable(package="videocore")
class BatchNormalization(keras.layers.Layer):
    """Batch normalisation over the channel (last) axis of (B, ..., C) inputs, in the input's dtype.

    Same weights, names and behaviour as `keras.layers.BatchNormalization(axis=-1)` (gamma, beta,
    moving_mean, moving_variance; moving averages with `momentum`; training=True normalises with
    the batch's biased variance), except that the moving variance is updated with the unbiased
    batch variance (what TF's fused kernel returns; a factor n/(n-1) for n values per channel).
    Scale, offset and statistics are float32 variables whatever the policy. `gamma_constraint` /
    `beta_constraint` let a WGAN critic clip them like every other weight. Any rank >= 2: every
    axis but the channels is folded into the fused kernel's NHWC layout.
    """

    def __init__(self, momentum=0.99, epsilon=1e-3, gamma_constraint=None, beta_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.momentum = float(momentum)
        self.epsilon = max(float(epsilon), 1.001e-5)  # the fused kernel refuses less
        self.gamma_constraint = keras.constraints.get(gamma_constraint)
        self.beta_constraint = keras.constraints.get(beta_constraint)
        self.supports_masking = True

    def build(self, input_shape):
        channels = int(input_shape[-1])
        # autocast=False: the fused kernel wants float32 scale and offset beside bf16 activations.
        self.gamma = self.add_weight(shape=(channels,), initializer="ones", name="gamma", autocast=False,
                                     constraint=self.gamma_constraint)
        self.beta = self.add_weight(shape=(channels,), initializer="zeros", name="beta", autocast=False,
                                    constraint=self.beta_constraint)
        self.moving_mean = self.add_weight(shape=(channels,), initializer="zeros", name="moving_mean",
                                           trainable=False, autocast=False, aggregation="mean")
        self.moving_variance = self.add_weight(shape=(channels,), initializer="ones", name="moving_variance",
                                               trainable=False, autocast=False, aggregation="mean")

    def call(self, inputs, training=False):
        shape = tf.shape(inputs)
        channels = inputs.shape[-1]
        flat = tf.reshape(inputs, [shape[0], -1, 1, channels])  # (B, everything else, 1, C) as NHWC
        if training:
            outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(
                flat, self.gamma, self.beta, epsilon=self.epsilon, is_training=True)
            self.moving_mean.assign(self.momentum * self.moving_mean + (1.0 - self.momentum) * mean)
            self.moving_variance.assign(self.momentum * self.moving_variance + (1.0 - self.momentum) * variance)
        else:
            outputs, _, _ = tf.compat.v1.nn.fused_batch_norm(
                flat, self.gamma, self.beta, mean=self.moving_mean, variance=self.moving_variance,
                epsilon=self.epsilon, is_training=False)
        return tf.reshape(outputs, shape)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(momentum=self.momentum, epsilon=self.epsilon,
                      gamma_constraint=keras.constraints.serialize(self.gamma_constraint),
                      beta_constraint=keras.constraints.serialize(self.beta_constraint))
        return config


def batch_norm(momentum=0.99, epsilon=1e-3, gamma_constraint=None, beta_constraint=None, name=None):
    """The batch norm for the device in force (`videocore.device`): this file's fused one on CPU, Keras' on GPU.

    Both have the variables gamma, beta, moving_mean, moving_variance and give the same outputs
    (the fused one keeps the unbiased variance as its moving average, see above).
    """
    if device.choices().keras_batch_norm:
        return keras.layers.BatchNormalization(momentum=momentum, epsilon=max(float(epsilon), 1.001e-5),
                                               gamma_constraint=gamma_constraint, beta_constraint=beta_constraint,
                                               name=name)
    return BatchNormalization(momentum, epsilon, gamma_constraint=gamma_constraint, beta_constraint=beta_constraint,
                              name=name)


def fold_batch_norm(kernel, bias, mean, variance, epsilon, gamma=None, beta=None):
    """BatchNorm (inference) after a conv folded into the conv: returns (kernel', bias') float32.

    BN(conv(x) + b) = gamma * (conv(x) + b - mean) / sqrt(var + eps) + beta
                    = conv'(x) + b', with the kernel scaled per output channel (its last axis)
    by gamma / sqrt(var + eps) and b' = (b - mean) * gamma / sqrt(var + eps) + beta. kernel:
    (..., in, out); bias, mean, variance, gamma, beta: (out,) or None (bias / beta 0, gamma 1).
    Computed in float64 so the folded net matches the unfolded one to float32 rounding.
    """
    kernel = np.asarray(kernel, np.float64)
    channels = kernel.shape[-1]
    bias = np.zeros(channels) if bias is None else np.asarray(bias, np.float64)
    factor = 1.0 / np.sqrt(np.asarray(variance, np.float64) + float(epsilon))
    if gamma is not None:
        factor = factor * np.asarray(gamma, np.float64)
    shift = 0.0 if beta is None else np.asarray(beta, np.float64)
    folded_bias = (bias - np.asarray(mean, np.float64)) * factor + shift
    return (kernel * factor).astype(np.float32), folded_bias.astype(np.float32)
