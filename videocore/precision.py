"""Precision policy: pick float32 / mixed_bfloat16 / mixed_float16 from what the device can do.

Measured on the development machine (DESIGN.md): bf16 through oneDNN's AMX / AVX512-BF16 kernels
is ~2x faster than float32 on CPUs that have them and far slower on CPUs that don't; on a GPU,
mixed_float16 needs loss scaling. Losses, KL terms, softmax / sigmoid outputs and variances should
stay float32 whatever the policy: cast with `float32(x)` before computing them.
"""
import contextlib
import pathlib

import keras
import tensorflow as tf
from absl import logging

from videocore import errors

POLICIES = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
# /proc/cpuinfo flags that mean oneDNN has fast bf16 kernels (AMX tiles or AVX512 bf16 dot products).
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_flags(cpuinfo_path="/proc/cpuinfo"):
    """Returns the set of CPU feature flags of the first processor (empty if unknown)."""
    try:
        text = pathlib.Path(cpuinfo_path).read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags") and ":" in line:
            return set(line.split(":", 1)[1].split())
    return set()


def has_gpu():
    return bool(tf.config.list_physical_devices("GPU"))


def choose_policy(name="auto", *, gpu=None, flags=None, onednn=None):
    """Returns the policy name for `name`, resolving "auto" from the hardware.

    auto: mixed_float16 on a GPU, mixed_bfloat16 on a CPU with AMX / AVX512-BF16 where TensorFlow runs
    oneDNN, else float32. Without oneDNN (TF_ENABLE_ONEDNN_OPTS=0) TensorFlow's Eigen kernels emulate
    bfloat16: the relive demo's WGAN-GP step measured 1.90 s in bf16 against 0.73 s in float32 on the
    AVX512_BF16 EPYC. `gpu`, `flags` and `onednn` override the detection (for tests and for choosing
    for another machine). Raises ConfigError for an unknown name.
    """
    if name not in POLICIES:
        raise errors.ConfigError(f"precision {name!r} is not one of {', '.join(POLICIES)}")
    if name != "auto":
        return name
    gpu = has_gpu() if gpu is None else gpu
    if gpu:
        return "mixed_float16"
    flags = cpu_flags() if flags is None else set(flags)
    if not flags & set(BF16_CPU_FLAGS):
        return "float32"
    if onednn is None:
        from videocore import device  # (device imports this module)

        onednn = device.onednn_enabled()
    return "mixed_bfloat16" if onednn else "float32"


def describe_device(policy):
    """One line naming the device and why the policy fits it, for logs and TensorBoard."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return f"{len(gpus)} GPU(s); policy {policy}"
    bf16 = sorted(cpu_flags() & set(BF16_CPU_FLAGS))
    support = f"bf16 flags {', '.join(bf16)}" if bf16 else "no bf16 instructions"
    return f"CPU ({support}); policy {policy}"


def apply_policy(name="auto"):
    """Sets Keras' global dtype policy from `choose_policy(name)`, logs it, returns the policy name.

    Call before building any layer: layers take the policy current when they are created.
    """
    policy = choose_policy(name)
    keras.mixed_precision.set_global_policy(policy)
    logging.info("precision: asked %s, using %s (%s)", name, policy, describe_device(policy))
    return policy


def current_policy():
    return keras.mixed_precision.global_policy().name


@contextlib.contextmanager
def policy_scope(name="auto"):
    """`apply_policy(name)` for the layers built inside the block; the previous global policy is put
    back on leaving it, also when it raises. Yields the policy name chosen."""
    previous = current_policy()
    try:
        yield apply_policy(name)
    finally:
        keras.mixed_precision.set_global_policy(previous)


def needs_loss_scaling(policy):
    """float16 gradients underflow without loss scaling; bfloat16 has float32's exponent range."""
    return policy == "mixed_float16"


def wrap_optimizer(optimizer, policy):
    """Wraps `optimizer` in Keras' LossScaleOptimizer when `policy` needs loss scaling.

    Train steps always write `grads = tape.gradient(optimizer.scale_loss(loss), variables)`:
    for an unwrapped optimizer `scale_loss` is the identity, so the same step serves every policy.
    """
    if needs_loss_scaling(policy) and not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def float32(x):
    """Casts a tensor (or nested structure) to float32, for losses and other sensitive math."""
    return tf.nest.map_structure(lambda t: tf.cast(t, tf.float32), x)
