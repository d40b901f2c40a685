"""What a VAE-GAN run will cost before it starts: frame size, steps per epoch, estimated time per epoch.

The time is not measured here (timing a step at the published size takes half a minute and
competes with the run for the CPU): it scales a full-size step measured on the development
machine (../shared/DESIGN.md, AMD EPYC, 2 vCPU) by the run's FLOPs per step.
"""

from videocore import data
from videocore import precision

# Seconds per training step of the published model (256x144, filters 80-640, z 200, batch 12)
# measured on the development CPU: 1.62-1.89 s with mixed_bfloat16 (1.9 s in issue 11's run),
# 2.99-3.30 s in float32. Midpoints.
MEASURED_STEP_SECONDS = {"mixed_bfloat16": 1.75, "float32": 3.1}
MEASURED_BATCH = 12
# Per step whatever the size (dispatch, data pipeline, optimizer updates): the quick preset's
# ~0.14 s steps (1,100 in ~2.5 min, configs.quick) are mostly this, not FLOPs.
OVERHEAD_SECONDS = 0.1


def forward_macs_per_frame(model_config):
    """Multiply-accumulates of one frame through Algorithm 1's forward pass.

    Enc once, Dec twice (x_bar and x_p), Dis three times (x, x_bar, x_p). 5x5 convs and
    transposed convs; the dense layers; BN and activations are negligible.
    """
    k = model_config.kernel_size ** 2
    height, width = model_config.height, model_config.width
    channels = (3,) + tuple(model_config.filters)
    convs = 0
    for i in range(len(model_config.filters)):
        out_pixels = (height // 2 ** (i + 1)) * (width // 2 ** (i + 1))
        convs += out_pixels * k * channels[i] * channels[i + 1]
    flat = (height // 2 ** len(model_config.filters)) * (width // 2 ** len(model_config.filters)) * channels[-1]
    latent = model_config.latent_dim
    encoder = convs + 2 * flat * latent
    decoder = convs + flat * latent  # each transposed conv mirrors one conv
    discriminator = convs + flat
    return encoder + 2 * decoder + 3 * discriminator


def _published_macs():
    from vaegan_video import configs

    return forward_macs_per_frame(configs.dissertation().model)


def estimate_step_seconds(config, policy=None):
    """Estimated seconds per training step of `config` on the development CPU, or None (GPU / float16)."""
    policy = policy or precision.choose_policy(config.loop.precision)
    reference = MEASURED_STEP_SECONDS.get(policy)
    if reference is None:
        return None
    work = forward_macs_per_frame(config.model) * config.loop.batch_size
    return OVERHEAD_SECONDS + (reference - OVERHEAD_SECONDS) * work / (_published_macs() * MEASURED_BATCH)


def _duration(seconds):
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def describe(config, stores):
    """Two lines for the start of a run: size, frames, steps per epoch, and the time estimate."""
    model = config.model
    frames = sum(len(s) for s in stores)
    steps = int(config.data.get("steps_per_epoch", 0) or data.steps_per_epoch(stores, config.loop.batch_size))
    total = config.loop.num_steps or config.loop.num_epochs * steps
    policy = precision.choose_policy(config.loop.precision)
    first = (f"VAE-GAN {model.width}x{model.height}, z {model.latent_dim}, filters {tuple(model.filters)}, "
             f"batch {config.loop.batch_size}, {policy}: {frames:,} frames, {steps:,} steps per epoch, "
             f"{total:,} steps in all")
    seconds = estimate_step_seconds(config, policy)
    if seconds is None:
        return first + f"\nno time estimate for {policy} (only CPU figures were measured)"
    return (first + f"\nestimated ~{seconds:.2g} s per step, ~{_duration(seconds * steps)} per epoch, "
            f"~{_duration(seconds * total)} in all (a full-size step measured on the development CPU, "
            "scaled by FLOPs; not timed now)")
