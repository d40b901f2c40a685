"""What a VAE-GAN run will cost before it starts: frame size, steps per epoch, estimated time per epoch.

The time per step is *measured* on this machine: the training loop caches the median step time of every
run under its workload (videocore.steptimes: the machine, the config but its run-only blocks, batch,
precision, XLA, replicas), and
`calibrate` times a few steps when nothing is cached yet (once per machine and model: ~5 s for `tiny`, ~40 s
for the published model, most of it tracing). A FLOPs count at one convolution's rate is not an estimate
at the small presets: on a 2-core EPYC (bf16) the FLOPs at the measured peak are 0.3 % of `tiny`'s 18 ms
step, 20 % of `quick`'s 136 ms and 31 % of 144x80 x0.4's 274 ms; the rest is per-step overhead (dispatch,
memory-bound ops, small-map convolutions far below the peak). The estimate line shows both parts. It counts
the training steps only, not checkpoints, samples and evaluations (a few % of a run at the presets' intervals).
"""

import logging as std_logging
import tempfile

from absl import logging

from videocore import data
from videocore import errors
from videocore import precision
from videocore import steptimes

CALIBRATION_STEPS = 6  # timed steps after the warm-up


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


def calibrate(config, strategy):
    """This machine's step time for `config` (a steptimes.Measured): cached, else a few steps timed now.

    Times the real training loop for steptimes.WARM_UP_STEPS + CALIBRATION_STEPS steps in a temporary
    folder (no samples, no evaluation); the loop caches the median. One process only: with several workers
    the estimate comes from the loop's first steps instead (None here when nothing is cached).
    `strategy` is the run's (videocore.distribute.start).
    """
    from videocore import distribute  # noqa: PLC0415  (these import TensorFlow; describe must not)
    from vaegan_video import train  # noqa: PLC0415

    policy = precision.choose_policy(config.loop.precision)
    key = steptimes.workload_key(config, policy, strategy.num_replicas_in_sync)
    cached = steptimes.lookup(key)
    if cached is not None or distribute.is_multi_worker(strategy):
        return cached

    trial = config.copy_and_resolve_references()
    trial.loop.num_steps, trial.loop.num_epochs = steptimes.WARM_UP_STEPS + CALIBRATION_STEPS, 0
    trial.loop.sample_every_steps = trial.loop.eval_every_steps = trial.loop.histogram_every_steps = 0
    trial.loop.checkpoint_every_steps, trial.loop.checkpoint_every_minutes = 10**9, 10.0**6
    trial.loop.restart = False
    if "eval" in trial:
        trial.eval.frames = 0
    quiet = _DropInfo()  # the trial's checkpoint lines would read as the run's
    logging.get_absl_logger().addFilter(quiet)
    try:
        with tempfile.TemporaryDirectory(prefix="vaegan_calibrate_") as workdir:
            result = train.train_and_evaluate(trial, workdir, progress=False)
    finally:
        logging.get_absl_logger().removeFilter(quiet)
    if result.stopped_by:
        raise errors.Stopped(result.stopped_by, f"stopped by {result.stopped_by} while timing the first steps; "
                                                "nothing was trained")
    return steptimes.lookup(key)


class _DropInfo:
    """A logging filter that drops records below WARNING."""

    def filter(self, record):
        return record.levelno >= std_logging.WARNING


def _duration(seconds):
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def describe(config, stores, measured=None, flops_per_second=None):
    """Two lines for the start of a run: size, frames, steps per epoch, and the time estimate.

    Runs no TensorFlow op (a main prints it before its distribution strategy may exist). The estimate is
    `measured` (a steptimes.Measured, from calibrate); `flops_per_second` (the measured peak, optional)
    splits it into the FLOPs' share and the per-step overhead. Without `measured` the second line says so."""
    model = config.model
    frames = sum(len(s) for s in stores)
    steps = int(config.data.get("steps_per_epoch", 0) or data.steps_per_epoch(stores, config.loop.batch_size))
    total = config.loop.num_steps or config.loop.num_epochs * steps
    policy = precision.choose_policy(config.loop.precision)
    first = (f"VAE-GAN {model.width}x{model.height}, z {model.latent_dim}, filters {tuple(model.filters)}, "
             f"batch {config.loop.batch_size}, {policy}: {frames:,} frames, {steps:,} steps per epoch, "
             f"{total:,} steps in all")
    if measured is None:
        return first + "\nno time estimate yet: the loop logs its measured step time after its first steps"
    seconds = measured.seconds
    split = ""
    if flops_per_second:
        compute = min(seconds, step_flops(config) / flops_per_second)
        split = (f": {step_flops(config) / 1e9:,.3g} GFLOP, {compute:.2g} s at the {flops_per_second / 1e9:,.0f} "
                 f"GFLOP/s peak + {seconds - compute:.2g} s per-step overhead")
    return (first + f"\nestimated ~{seconds:.2g} s per step, ~{_duration(seconds * steps)} per epoch, "
            f"~{_duration(seconds * total)} in all (median of {measured.steps} steps timed here{split})")
