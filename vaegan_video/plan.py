"""What a VAE-GAN run will cost before it starts: frame size, steps per epoch, estimated time per epoch.

The time is estimated for *this* machine without timing the model itself (tracing the published
model takes half a minute): one 5x5 stride-2 convolution like the model's second layer is timed
forward and backward for about a second in the run's precision, and the step's FLOPs are divided
by the rate it reached. On the development CPUs a full-size step ran at 0.86-1.1x that rate.
"""

import statistics
import time

from videocore import data
from videocore import precision

# Per step whatever the size (dispatch, data pipeline, optimizer updates): the quick preset's
# ~0.14 s steps (1,100 in ~2.5 min, configs.quick) are mostly this, not FLOPs.
OVERHEAD_SECONDS = 0.1


def network_macs_per_frame(model_config):
    """Multiply-accumulates of one frame through each network once: {"encoder", "decoder", "discriminator"}.

    5x5 convs and transposed convs and the dense layers; BN and activations are negligible. The seed's
    plain VAE ("mlp") has no discriminator (0).
    """
    if model_config.get("kind", "conv") == "mlp":
        pixels = model_config.height * model_config.width * 3
        widths = (pixels, *model_config.mlp_encoder_units, 2 * model_config.latent_dim)
        decoder = (model_config.latent_dim, *model_config.mlp_decoder_units, pixels)
        return {"encoder": sum(a * b for a, b in zip(widths, widths[1:])),
                "decoder": sum(a * b for a, b in zip(decoder, decoder[1:])), "discriminator": 0}
    k = model_config.kernel_size ** 2
    height, width = model_config.height, model_config.width
    channels = (3,) + tuple(model_config.filters)
    convs = 0
    for i in range(len(model_config.filters)):
        out_pixels = (height // 2 ** (i + 1)) * (width // 2 ** (i + 1))
        convs += out_pixels * k * channels[i] * channels[i + 1]
    flat = (height // 2 ** len(model_config.filters)) * (width // 2 ** len(model_config.filters)) * channels[-1]
    latent = model_config.latent_dim
    return {"encoder": convs + 2 * flat * latent,
            "decoder": convs + flat * latent,  # each transposed conv mirrors one conv
            "discriminator": convs + flat}


def forward_macs_per_frame(model_config):
    """Multiply-accumulates of one frame through Algorithm 1's forward pass.

    Enc once, Dec twice (x_bar and x_p), Dis three times (x, x_bar, x_p); the seed's plain VAE ("mlp"):
    one encode and one decode (no adversarial term).
    """
    macs = network_macs_per_frame(model_config)
    if model_config.get("kind", "conv") == "mlp":
        return macs["encoder"] + macs["decoder"]
    return macs["encoder"] + 2 * macs["decoder"] + 3 * macs["discriminator"]


def reconstruction_flops_per_frame(model_config):
    """FLOPs of one frame through reconstruct.Autoencoder: Enc, then Dec on mu (no backward pass)."""
    macs = network_macs_per_frame(model_config)
    return 2 * (macs["encoder"] + macs["decoder"])


def step_flops(config):
    """FLOPs of one training step: the forward pass and a backward pass of twice its cost."""
    return 2 * 3 * forward_macs_per_frame(config.model) * config.loop.batch_size


def measure_conv_flops_per_second(policy, repeats=5):
    """FLOP/s this machine reaches now on a 5x5 stride-2 convolution, forward + backward.

    The shape is the published model's second layer (batch 12, 72x128x80 -> 36x64x160); the
    median of `repeats` timed runs after one warm-up, in the compute dtype of `policy`.
    """
    import keras
    import tensorflow as tf

    dtype = keras.mixed_precision.Policy(policy).compute_dtype
    x = tf.random.stateless_normal((12, 72, 128, 80), seed=(1, 2), dtype=dtype)
    kernel = tf.Variable(tf.random.stateless_normal((5, 5, 80, 160), seed=(3, 4), dtype=dtype) * 0.01)

    @tf.function
    def forward_backward():
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.nn.conv2d(x, kernel, strides=2, padding="SAME")
            loss = tf.reduce_sum(tf.cast(y, tf.float32))
        return tape.gradient(loss, [x, kernel])

    forward_backward()  # trace and warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        gradients = forward_backward()
        float(tf.reduce_sum(tf.cast(gradients[1], tf.float32)))  # wait for the result
        times.append(time.perf_counter() - start)
    flops = 2 * 3 * (36 * 64) * (5 * 5 * 80 * 160) * 12
    return flops / statistics.median(times)


def estimate_step_seconds(config, policy=None, flops_per_second=None):
    """Estimated seconds per training step of `config` on this machine (see the module docstring)."""
    policy = policy or precision.choose_policy(config.loop.precision)
    rate = flops_per_second or measure_conv_flops_per_second(policy)
    return OVERHEAD_SECONDS + step_flops(config) / rate


def _duration(seconds):
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def describe(config, stores, flops_per_second=None):
    """Two lines for the start of a run: size, frames, steps per epoch, and the time estimate.

    Runs no TensorFlow op (a main prints it before its distribution strategy may exist): the estimate
    needs `flops_per_second`, from measure_conv_flops_per_second once the strategy is made; without it
    the second line says the estimate was not measured."""
    model = config.model
    frames = sum(len(s) for s in stores)
    steps = int(config.data.get("steps_per_epoch", 0) or data.steps_per_epoch(stores, config.loop.batch_size))
    total = config.loop.num_steps or config.loop.num_epochs * steps
    policy = precision.choose_policy(config.loop.precision)
    first = (f"VAE-GAN {model.width}x{model.height}, z {model.latent_dim}, filters {tuple(model.filters)}, "
             f"batch {config.loop.batch_size}, {policy}: {frames:,} frames, {steps:,} steps per epoch, "
             f"{total:,} steps in all")
    if flops_per_second is None:
        return first + "\nno time estimate: this machine's convolution rate was not measured"
    rate = flops_per_second
    seconds = estimate_step_seconds(config, policy, rate)
    return (first + f"\nestimated ~{seconds:.2g} s per step, ~{_duration(seconds * steps)} per epoch, "
            f"~{_duration(seconds * total)} in all ({step_flops(config) / 1e9:,.0f} GFLOP per step at the "
            f"{rate / 1e9:,.0f} GFLOP/s one of its convolutions reaches here now)")
