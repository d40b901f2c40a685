"""The latent sequence model: an LSTM reads z_1..z_t and predicts z_{t+1}, with an L2 or a mixture-density head.

Shapes: latents z (B, T, D) float32 (the VAE-GAN's z, mostly in [-1, 1]); LSTM states (B, units)
each, two (h, c) per layer. The model's outputs are a dict:
    l2 head:  {"prediction": (B, T, D), "states": [h_1, c_1, ...]}
    mdn head: {"logits": (B, T, K), "means": (B, T, K, D), "log_sigmas": (B, T, K, D), "states": [...]}
so that `outputs[...][:, t]` is about z_{t+1}. With `residual`, the head predicts z_{t+1} - z_t and
z_t is added inside the model, so losses and sampling never need to know.
"""

import math

import keras
import tensorflow as tf
from keras import layers

HEADS = ("l2", "mdn")


def check_config(model_config):
    """ValueError for a model block that cannot be built."""
    if model_config.head not in HEADS:
        raise ValueError(f"model.head={model_config.head!r}: choose one of {HEADS}")
    if model_config.units < 1 or model_config.num_layers < 1:
        raise ValueError(f"model.units ({model_config.units}) and model.num_layers "
                         f"({model_config.num_layers}) must be at least 1")
    if model_config.head == "mdn" and model_config.num_mixtures < 1:
        raise ValueError(f"model.num_mixtures={model_config.num_mixtures} must be at least 1")


def build(model_config, latent_dim) -> keras.Model:
    """[z (B, T, D), h_1, c_1, ..., h_L, c_L] -> the outputs dict above (T may be any length)."""
    check_config(model_config)
    dtype = model_config.dtype
    units, mixtures, dim = model_config.units, model_config.num_mixtures, int(latent_dim)
    z = keras.Input((None, dim), name="latents", dtype="float32")
    initial = []
    for i in range(model_config.num_layers):
        initial += [keras.Input((units,), name=f"h{i + 1}"), keras.Input((units,), name=f"c{i + 1}")]
    x, states = z, []
    for i in range(model_config.num_layers):
        x, h, c = layers.LSTM(units, return_sequences=True, return_state=True, dtype=dtype,
                              name=f"lstm{i + 1}")(x, initial_state=initial[2 * i:2 * i + 2])
        states += [h, c]
    # A residual head starts close to "copy the last latent", the baseline it has to beat.
    change_init = (keras.initializers.VarianceScaling(model_config.residual_init_scale) if model_config.residual
                   else "glorot_uniform")
    if model_config.head == "l2":
        prediction = layers.Dense(dim, dtype=dtype, kernel_initializer=change_init, name="next_latent")(x)
        if model_config.residual:
            prediction = layers.Add(dtype=dtype, name="plus_last")([prediction, z])
        outputs = {"prediction": prediction}
    else:
        logits = layers.Dense(mixtures, dtype=dtype, name="mixture_logits")(x)
        means = layers.Reshape((-1, mixtures, dim), name="means_kd")(
            layers.Dense(mixtures * dim, dtype=dtype, kernel_initializer=change_init, name="mixture_means")(x))
        if model_config.residual:
            means = layers.Add(dtype=dtype, name="plus_last")([means, keras.ops.expand_dims(z, 2)])
        log_sigmas = layers.Reshape((-1, mixtures, dim), name="log_sigmas_kd")(
            layers.Dense(mixtures * dim, dtype=dtype, name="mixture_log_sigmas")(x))
        log_sigmas = keras.ops.clip(log_sigmas, model_config.log_sigma_min, model_config.log_sigma_max)
        outputs = {"logits": logits, "means": means, "log_sigmas": log_sigmas}
    outputs["states"] = states
    return keras.Model([z, *initial], outputs, name="latent_sequence")


def zero_states(model, batch_size):
    """Zero LSTM states for `model`: a list of (batch_size, units) float32 tensors."""
    return [tf.zeros((batch_size, spec.shape[-1]), tf.float32) for spec in model.inputs[1:]]


def num_states(model):
    return len(model.inputs) - 1


# ----------------------------------------------------------------------------- predictions


def expected_next(outputs):
    """E[z_{t+1}] (B, T, D): the L2 prediction, or sum_k pi_k m_k (the point that minimises squared error)."""
    if "prediction" in outputs:
        return tf.cast(outputs["prediction"], tf.float32)
    weights = tf.nn.softmax(tf.cast(outputs["logits"], tf.float32), axis=-1)
    return tf.reduce_sum(weights[..., None] * tf.cast(outputs["means"], tf.float32), axis=-2)


def mode_next(outputs):
    """The mean of the most probable component (B, T, D): the mode when the components lie apart."""
    if "prediction" in outputs:
        return tf.cast(outputs["prediction"], tf.float32)
    best = tf.argmax(outputs["logits"], axis=-1)
    return tf.cast(tf.gather(outputs["means"], best, batch_dims=len(best.shape)), tf.float32)


def sample_next(outputs, temperature, seed):
    """A draw of z_{t+1} (B, T, D) at `temperature` tau (World Models: logits / tau, sigmas * sqrt(tau)).

    tau -> 0 gives `mode_next` (tau == 0 exactly); the l2 head is deterministic whatever tau.
    seed: int64 (2,) for the stateless draws. tau: a float32 scalar tensor or a number.
    """
    if "prediction" in outputs:
        return tf.cast(outputs["prediction"], tf.float32)
    temperature = tf.cast(temperature, tf.float32)
    logits = tf.cast(outputs["logits"], tf.float32)
    means = tf.cast(outputs["means"], tf.float32)
    log_sigmas = tf.cast(outputs["log_sigmas"], tf.float32)
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 2)
    # Gumbel-max draws the component from softmax(logits / tau) and becomes the argmax as tau -> 0.
    gumbel = -tf.math.log(-tf.math.log(tf.random.stateless_uniform(tf.shape(logits), seeds[0], 1e-20, 1.0)))
    safe = tf.maximum(temperature, 1e-30)
    component = tf.argmax(tf.where(temperature > 0, logits / safe + gumbel, logits), axis=-1)
    batch_dims = len(component.shape)
    mean = tf.gather(means, component, batch_dims=batch_dims)
    sigma = tf.exp(tf.gather(log_sigmas, component, batch_dims=batch_dims))
    eps = tf.random.stateless_normal(tf.shape(mean), seeds[1])
    return mean + sigma * tf.sqrt(tf.maximum(temperature, 0.0)) * eps

