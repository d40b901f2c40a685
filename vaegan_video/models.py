"""The dissertation's three networks (Tables 1-3): encoder, decoder and discriminator; and the MLP kind.

All sizes come from the config (`configs.dissertation()` holds the published ones):
frames (B, H, W, 3) in [-1, 1], H and W divisible by 2**len(filters); latents (B, latent_dim).
`model.kind` = "mlp" builds fully connected networks instead (Neural Dream Videos' plain VAE,
`configs.vae_mlp()`), with the same inputs and outputs.
"""

import keras
import tensorflow as tf
from keras import layers

from videocore import layers as fast_layers

DCGAN_STDDEV = 0.02  # the released code's (DCGAN's) weight scale


@keras.saving.register_keras_serializable(package="vaegan_video")
class BatchNormalization(fast_layers.BatchNormalization):
    """videocore's fused batch norm with the two options the released code needs.

    batch_statistics: normalise with the batch's own mean and variance also when not training
    (the released code never used the moving averages, not even to reconstruct a film); the
    moving averages are still updated in training, so a checkpoint fits either setting.
    gamma_stddev > 0: gamma starts as N(1, gamma_stddev) instead of ones.
    """

    def __init__(self, batch_statistics=False, gamma_stddev=0.0, **kwargs):
        super().__init__(**kwargs)
        self.batch_statistics = bool(batch_statistics)
        self.gamma_stddev = float(gamma_stddev)

    def build(self, input_shape):
        super().build(input_shape)
        if self.gamma_stddev:
            self.gamma.assign(keras.initializers.RandomNormal(1.0, self.gamma_stddev)(self.gamma.shape))

    def call(self, inputs, training=False):
        if training or not self.batch_statistics:
            return super().call(inputs, training=training)
        shape = tf.shape(inputs)
        flat = tf.reshape(inputs, [shape[0], -1, 1, inputs.shape[-1]])  # NHWC for the fused kernel
        outputs, _, _ = tf.compat.v1.nn.fused_batch_norm(flat, self.gamma, self.beta, epsilon=self.epsilon,
                                                         is_training=True)
        return tf.reshape(outputs, shape)

    def get_config(self):
        config = super().get_config()
        config.update(batch_statistics=self.batch_statistics, gamma_stddev=self.gamma_stddev)
        return config


def _option(config, name, default):
    # Runs saved before an option existed have no entry for it in config.json: keep the old behaviour.
    return config.get(name, default) if hasattr(config, "get") else getattr(config, name, default)


def _initializers(config):
    """Kernel initializers {conv, deconv, dense} and the BN gamma stddev for `config.init`."""
    init = _option(config, "init", "keras")
    if init == "keras":
        return {"conv": "glorot_uniform", "deconv": "glorot_uniform", "dense": "glorot_uniform"}, 0.0
    if init == "dcgan":
        # As DCGAN's ops.py: conv2d truncated normal, deconv2d and linear plain normal, stddev 0.02.
        return {"conv": keras.initializers.TruncatedNormal(stddev=DCGAN_STDDEV),
                "deconv": keras.initializers.RandomNormal(stddev=DCGAN_STDDEV),
                "dense": keras.initializers.RandomNormal(stddev=DCGAN_STDDEV)}, DCGAN_STDDEV
    raise ValueError(f"model.init must be 'keras' or 'dcgan', got {init!r}")


def _batch_norm(config, name):
    statistics = _option(config, "batchnorm_statistics", "moving")
    if statistics not in ("moving", "batch"):
        raise ValueError(f"model.batchnorm_statistics must be 'moving' or 'batch', got {statistics!r}")
    _, gamma_stddev = _initializers(config)
    if statistics == "moving" and not gamma_stddev:
        return fast_layers.batch_norm(momentum=config.bn_momentum, epsilon=config.bn_epsilon, name=name)
    # The fused kernel runs on CPU and GPU alike; only this subclass has the two options.
    return BatchNormalization(momentum=config.bn_momentum, epsilon=config.bn_epsilon,
                              batch_statistics=statistics == "batch", gamma_stddev=gamma_stddev, name=name)


def _down_block(x, filters, config, name, batchnorm=True):
    """5x5 stride-2 conv, BatchNorm, LeakyReLU (Table 1 / Table 3 rows 1-4).

    Without BatchNorm (the released code's first layer) the conv gets a bias, which BN would cancel.
    """
    kernels, _ = _initializers(config)
    x = layers.Conv2D(filters, config.kernel_size, strides=2, padding="same", use_bias=not batchnorm,
                      kernel_initializer=kernels["conv"], name=f"{name}_conv")(x)
    if batchnorm:
        x = _batch_norm(config, f"{name}_bn")(x)
    return layers.LeakyReLU(negative_slope=config.leaky_relu_slope, name=f"{name}_lrelu")(x)


def _with_batchnorm(config, index):
    """Whether conv layer `index` (0-based) of the encoder / discriminator has BatchNorm."""
    return index > 0 or bool(_option(config, "first_layer_batchnorm", True))


def _check_size(config):
    factor = 2 ** len(config.filters)
    if config.height % factor or config.width % factor:
        raise ValueError(f"frame size {config.width}x{config.height} must be divisible by {factor} "
                         f"({len(config.filters)} stride-2 layers)")
    return config.height // factor, config.width // factor


def encoder(config) -> keras.Model:
    """x (B, H, W, 3) -> (mu, log_var), each (B, latent_dim), bounded to [-1, 1] by tanh.

    Table 1: four conv layers (80, 160, 320, 640 filters) then one fully connected layer with
    tanh (section 4.2.1; footnote 1: without it the KL divergence exploded). The layer has two
    outputs; we read the second as log sigma^2 (eq. 4.8 is written in log sigma^2), which the
    tanh keeps within [-1, 1], so sigma stays in [0.61, 1.65] and the KL cannot blow up.
    `log_var_scale` multiplies it (the released code: log sigma^2 = 0.5 * tanh).
    """
    _check_size(config)
    kernels, _ = _initializers(config)
    frames = keras.Input((config.height, config.width, 3), name="frames")
    x = frames
    for i, filters in enumerate(config.filters):
        x = _down_block(x, filters, config, f"enc{i + 1}", batchnorm=_with_batchnorm(config, i))
    x = layers.Flatten(name="enc_flatten")(x)
    mu = layers.Dense(config.latent_dim, activation="tanh", dtype="float32", kernel_initializer=kernels["dense"],
                      name="enc_mu")(x)
    log_var = layers.Dense(config.latent_dim, activation="tanh", dtype="float32",
                           kernel_initializer=kernels["dense"], name="enc_log_var")(x)
    scale = float(_option(config, "log_var_scale", 1.0))
    if scale != 1.0:
        log_var = layers.Rescaling(scale, dtype="float32", name="enc_log_var_scale")(log_var)
    return keras.Model(frames, [mu, log_var], name="encoder")


def decoder(config) -> keras.Model:
    """z (B, latent_dim) -> frames (B, H, W, 3) in [-1, 1].

    Table 2 (corrected: layer 3 has 160 filters): a fully connected projection to
    (H/16, W/16, 640) with BatchNorm + ReLU, three 5x5 stride-2 transposed convs (320, 160, 80)
    with BatchNorm + ReLU, and a last one to 3 channels with tanh.
    """
    base_h, base_w = _check_size(config)
    kernels, _ = _initializers(config)
    z = keras.Input((config.latent_dim,), name="z")
    top = config.filters[-1]
    x = layers.Dense(base_h * base_w * top, use_bias=False, kernel_initializer=kernels["dense"],
                     name="dec_project")(z)
    x = layers.Reshape((base_h, base_w, top), name="dec_reshape")(x)
    x = _batch_norm(config, "dec1_bn")(x)
    x = layers.ReLU(name="dec1_relu")(x)
    for i, filters in enumerate(reversed(config.filters[:-1])):
        x = layers.Conv2DTranspose(filters, config.kernel_size, strides=2, padding="same", use_bias=False,
                                   kernel_initializer=kernels["deconv"], name=f"dec{i + 2}_deconv")(x)
        x = _batch_norm(config, f"dec{i + 2}_bn")(x)
        x = layers.ReLU(name=f"dec{i + 2}_relu")(x)
    x = layers.Conv2DTranspose(3, config.kernel_size, strides=2, padding="same", kernel_initializer=kernels["deconv"],
                               name=f"dec{len(config.filters) + 1}_deconv")(x)
    frames = layers.Activation("tanh", dtype="float32", name="dec_tanh")(x)
    return keras.Model(z, frames, name="decoder")


def discriminator(config) -> keras.Model:
    """x (B, H, W, 3) -> [D_1(x), ..., D_4(x), logit of Dis(x)].

    Table 3: the encoder's conv stack; the last conv layer is flattened into one sigmoid unit
    giving the probability that x is real. Its pre-sigmoid logit (B, 1) float32 is returned
    (Dis(x) = sigmoid(logit)) so the cross entropies can be computed stably. The four conv
    activations (after BatchNorm and LeakyReLU) come first: the learned similarity (eq. 4.11)
    compares them.
    """
    _check_size(config)
    kernels, _ = _initializers(config)
    frames = keras.Input((config.height, config.width, 3), name="frames")
    x = frames
    features = []
    for i, filters in enumerate(config.filters):
        x = _down_block(x, filters, config, f"dis{i + 1}", batchnorm=_with_batchnorm(config, i))
        features.append(x)
    x = layers.Flatten(name="dis_flatten")(x)
    logit = layers.Dense(1, dtype="float32", kernel_initializer=kernels["dense"], name="dis_logit")(x)
    return keras.Model(frames, features + [logit], name="discriminator")


# ----------------------------------------------------------------------------- the MLP kind


def _mlp_stack(x, units, config, name):
    kernels, _ = _initializers(config)
    for i, width in enumerate(units):
        x = layers.Dense(width, activation=config.mlp_activation, kernel_initializer=kernels["dense"],
                         name=f"{name}{i + 1}")(x)
    return x


def mlp_encoder(config) -> keras.Model:
    """x (B, H, W, 3) -> (mu, log_var), each (B, latent_dim), unbounded: the frame flattened
    (H * W * 3 inputs) through fully connected layers of `mlp_encoder_units`, then two linear heads."""
    kernels, _ = _initializers(config)
    frames = keras.Input((config.height, config.width, 3), name="frames")
    x = _mlp_stack(layers.Flatten(name="enc_flatten")(frames), config.mlp_encoder_units, config, "enc_fc")
    mu = layers.Dense(config.latent_dim, dtype="float32", kernel_initializer=kernels["dense"], name="enc_mu")(x)
    log_var = layers.Dense(config.latent_dim, dtype="float32", kernel_initializer=kernels["dense"],
                           name="enc_log_var")(x)
    return keras.Model(frames, [mu, log_var], name="encoder")


def mlp_decoder(config) -> keras.Model:
    """z (B, latent_dim) -> frames (B, H, W, 3) in [-1, 1]: layers of `mlp_decoder_units`, then a
    linear layer to H * W * 3 values and tanh (the package's pixel range)."""
    kernels, _ = _initializers(config)
    z = keras.Input((config.latent_dim,), name="z")
    x = _mlp_stack(z, config.mlp_decoder_units, config, "dec_fc")
    x = layers.Dense(config.height * config.width * 3, kernel_initializer=kernels["dense"], name="dec_pixels")(x)
    x = layers.Reshape((config.height, config.width, 3), name="dec_reshape")(x)
    frames = layers.Activation("tanh", dtype="float32", name="dec_tanh")(x)
    return keras.Model(z, frames, name="decoder")


def mlp_discriminator(config) -> keras.Model:
    """x (B, H, W, 3) -> [hidden layer activations..., logit (B, 1) float32], the encoder's layers:
    only used with loss.adversarial or the learned similarity (the plain VAE needs neither)."""
    kernels, _ = _initializers(config)
    frames = keras.Input((config.height, config.width, 3), name="frames")
    x = layers.Flatten(name="dis_flatten")(frames)
    features = []
    for i, width in enumerate(config.mlp_encoder_units):
        x = layers.Dense(width, activation=config.mlp_activation, kernel_initializer=kernels["dense"],
                         name=f"dis_fc{i + 1}")(x)
        features.append(x)
    logit = layers.Dense(1, dtype="float32", kernel_initializer=kernels["dense"], name="dis_logit")(x)
    return keras.Model(frames, features + [logit], name="discriminator")


KINDS = {"conv": {"encoder": encoder, "decoder": decoder, "discriminator": discriminator},
         "mlp": {"encoder": mlp_encoder, "decoder": mlp_decoder, "discriminator": mlp_discriminator}}


def builders(model_config) -> dict:
    """{network name: function(model config) -> keras.Model} for `model_config.kind` ("conv" if absent)."""
    kind = _option(model_config, "kind", "conv")
    if kind not in KINDS:
        raise ValueError(f"model.kind must be one of {sorted(KINDS)}, got {kind!r}")
    return KINDS[kind]


def build(config) -> dict:
    """{"encoder", "decoder", "discriminator"} built from `config.model` (of its `kind`)."""
    model_config = config.model if "model" in config else config
    return {name: make(model_config) for name, make in builders(model_config).items()}

