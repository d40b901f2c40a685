"""The dissertation's three networks (Tables 1-3): encoder, decoder and discriminator.

All sizes come from the config (`configs.dissertation()` holds the published ones):
frames (B, H, W, 3) in [-1, 1], H and W divisible by 2**len(filters); latents (B, latent_dim).
"""

import keras
from keras import layers

from videocore import layers as fast_layers


def _down_block(x, filters, config, name):
    """5x5 stride-2 conv, BatchNorm, LeakyReLU (Table 1 / Table 3 rows 1-4)."""
    x = layers.Conv2D(filters, config.kernel_size, strides=2, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = fast_layers.BatchNormalization(momentum=config.bn_momentum, epsilon=config.bn_epsilon, name=f"{name}_bn")(x)
    return layers.LeakyReLU(negative_slope=config.leaky_relu_slope, name=f"{name}_lrelu")(x)


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
    """
    _check_size(config)
    frames = keras.Input((config.height, config.width, 3), name="frames")
    x = frames
    for i, filters in enumerate(config.filters):
        x = _down_block(x, filters, config, f"enc{i + 1}")
    x = layers.Flatten(name="enc_flatten")(x)
    mu = layers.Dense(config.latent_dim, activation="tanh", dtype="float32", name="enc_mu")(x)
    log_var = layers.Dense(config.latent_dim, activation="tanh", dtype="float32", name="enc_log_var")(x)
    return keras.Model(frames, [mu, log_var], name="encoder")


def decoder(config) -> keras.Model:
    """z (B, latent_dim) -> frames (B, H, W, 3) in [-1, 1].

    Table 2 (corrected: layer 3 has 160 filters): a fully connected projection to
    (H/16, W/16, 640) with BatchNorm + ReLU, three 5x5 stride-2 transposed convs (320, 160, 80)
    with BatchNorm + ReLU, and a last one to 3 channels with tanh.
    """
    base_h, base_w = _check_size(config)
    z = keras.Input((config.latent_dim,), name="z")
    top = config.filters[-1]
    x = layers.Dense(base_h * base_w * top, use_bias=False, name="dec_project")(z)
    x = layers.Reshape((base_h, base_w, top), name="dec_reshape")(x)
    x = fast_layers.BatchNormalization(momentum=config.bn_momentum, epsilon=config.bn_epsilon, name="dec1_bn")(x)
    x = layers.ReLU(name="dec1_relu")(x)
    for i, filters in enumerate(reversed(config.filters[:-1])):
        x = layers.Conv2DTranspose(filters, config.kernel_size, strides=2, padding="same", use_bias=False,
                                   name=f"dec{i + 2}_deconv")(x)
        x = fast_layers.BatchNormalization(momentum=config.bn_momentum, epsilon=config.bn_epsilon,
                                      name=f"dec{i + 2}_bn")(x)
        x = layers.ReLU(name=f"dec{i + 2}_relu")(x)
    x = layers.Conv2DTranspose(3, config.kernel_size, strides=2, padding="same",
                               name=f"dec{len(config.filters) + 1}_deconv")(x)
    frames = layers.Activation("tanh", dtype="float32", name="dec_tanh")(x)
    return keras.Model(z, frames, name="decoder")


def discriminator(config) -> keras.Model:
    """x (B, H, W, 3) -> [D_1(x), ..., D_4(x), Dis(x)].

    Table 3: the encoder's conv stack; the last conv layer is flattened into one sigmoid unit
    (B, 1) giving the probability that x is real. The four conv activations (after BatchNorm
    and LeakyReLU) are returned too: the learned similarity (eq. 4.11) compares them.
    """
    _check_size(config)
    frames = keras.Input((config.height, config.width, 3), name="frames")
    x = frames
    features = []
    for i, filters in enumerate(config.filters):
        x = _down_block(x, filters, config, f"dis{i + 1}")
        features.append(x)
    x = layers.Flatten(name="dis_flatten")(x)
    probability = layers.Dense(1, activation="sigmoid", dtype="float32", name="dis_sigmoid")(x)
    return keras.Model(frames, features + [probability], name="discriminator")


def build(config) -> dict:
    """{"encoder", "decoder", "discriminator"} built from `config.model`."""
    model_config = config.model if "model" in config else config
    return {
        "encoder": encoder(model_config),
        "decoder": decoder(model_config),
        "discriminator": discriminator(model_config),
    }

