"""Layers the Keras set lacks or makes slow here: a BatchNormalization that stays in bf16.

Keras 3's BatchNormalization casts bf16 activations to float32 and back around every use, so
under `mixed_bfloat16` each conv is wrapped in dtype conversions (../shared/DESIGN.md). This one
calls TensorFlow's fused batch-norm kernel, which takes bf16 activations with float32
statistics, scale and offset (oneDNN on CPU, cuDNN on GPU): measured here on a (12, 72, 128, 80)
tensor, forward + backward 12 ms against 46 ms for Keras' layer.
"""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="videocore")
class BatchNormalization(keras.layers.Layer):
    """Batch normalisation over the channel (last) axis of (B, C), (B, H, W, C) or (B, T, H, W, C).

    Same weights, names and behaviour as `keras.layers.BatchNormalization(axis=-1)` (gamma, beta,
    moving_mean, moving_variance; moving averages with `momentum`), except that the moving
    variance is updated with the unbiased batch variance (what TF's fused kernel returns; a
    difference of n/(n-1) for n values per channel). Computes in the layer's compute dtype.
    """

    def __init__(self, momentum=0.99, epsilon=1e-3, center=True, scale=True, **kwargs):
        super().__init__(**kwargs)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = center
        self.scale = scale
        self.supports_masking = True

    def build(self, input_shape):
        channels = int(input_shape[-1])
        self.gamma = self.add_weight(shape=(channels,), initializer="ones", name="gamma", trainable=self.scale,
                                     autocast=False)
        self.beta = self.add_weight(shape=(channels,), initializer="zeros", name="beta", trainable=self.center,
                                    autocast=False)
        self.moving_mean = self.add_weight(shape=(channels,), initializer="zeros", name="moving_mean",
                                           trainable=False, autocast=False)
        self.moving_variance = self.add_weight(shape=(channels,), initializer="ones", name="moving_variance",
                                               trainable=False, autocast=False)

    def call(self, inputs, training=None):
        shape = tf.shape(inputs)
        rank = inputs.shape.rank
        x = inputs
        if rank != 4:  # the fused kernel wants NHWC: fold the other axes into N and W
            x = tf.reshape(x, [-1, 1, 1 if rank == 2 else tf.reduce_prod(shape[1:-1]), shape[-1]])
        gamma = tf.cast(self.gamma, tf.float32)
        beta = tf.cast(self.beta, tf.float32)
        if training:
            y, mean, variance = tf.compat.v1.nn.fused_batch_norm(
                x, gamma, beta, epsilon=self.epsilon, is_training=True, data_format="NHWC")
            decay = 1.0 - self.momentum
            self.moving_mean.assign(self.moving_mean - decay * (self.moving_mean - mean))
            self.moving_variance.assign(self.moving_variance - decay * (self.moving_variance - variance))
        else:
            y, _, _ = tf.compat.v1.nn.fused_batch_norm(
                x, gamma, beta, mean=tf.cast(self.moving_mean, tf.float32),
                variance=tf.cast(self.moving_variance, tf.float32), epsilon=self.epsilon, is_training=False,
                data_format="NHWC")
        if rank != 4:
            y = tf.reshape(y, shape)
        return y

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(momentum=self.momentum, epsilon=self.epsilon, center=self.center, scale=self.scale)
        return config
