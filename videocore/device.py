"""Device-aware implementation choices: the one place that decides which layer variant each device gets.

The CPU variants (the hand-written LSTM of relive/recurrent.py, space-to-depth 3D convolutions in
relive/layers.py, the fused bf16 BatchNorm of videocore/layers.py, no XLA) were each measured
faster here on oneDNN (DESIGN.md). On a GPU the library kernels are the fast ones: cuDNN's LSTM
(keras.layers.LSTM), cuDNN's own 3D convolutions, Keras' BatchNormalization (it keeps float16
activations' statistics in float32, which is what loss-scaled float16 training wants), and XLA.
Every pair computes the same function from the same weights (tests/videocore/test_device.py).

Force a branch with the environment variable NEURAL_VIDEO_DEVICE=cpu|gpu (e.g. to reproduce a GPU
run's graph on a CPU) or, in code, `with device.forced("gpu"):` around model building.
"""
import contextlib
import dataclasses
import os

import tensorflow as tf

from videocore import errors

DEVICES = ("auto", "cpu", "gpu")
ENVIRONMENT_VARIABLE = "NEURAL_VIDEO_DEVICE"

_forced = []  # stack of names set by `forced`, innermost last


@dataclasses.dataclass(frozen=True)
class Choices:
    """What the models build on `device` ("cpu" or "gpu")."""
    device: str
    cudnn_lstm: bool  # keras.layers.LSTM instead of relive.recurrent.LSTM
    plain_conv3d: bool  # keras Conv3D / Conv3DTranspose instead of the space-to-depth pixel layers
    keras_batch_norm: bool  # keras.layers.BatchNormalization instead of videocore.layers.BatchNormalization
    jit_compile: bool  # XLA for the train step when config.loop.jit_compile is left unset


def detected_device():
    """"gpu" when TensorFlow sees a GPU, else "cpu"."""
    return "gpu" if tf.config.list_physical_devices("GPU") else "cpu"


def resolve(device=None):
    """The device name in force: `device` if given, else `forced(...)`, else $NEURAL_VIDEO_DEVICE, else detected.

    Raises ConfigError for a name that is not auto, cpu or gpu.
    """
    name = device or (_forced[-1] if _forced else None) or os.environ.get(ENVIRONMENT_VARIABLE) or "auto"
    name = name.strip().lower()
    if name not in DEVICES:
        where = f"${ENVIRONMENT_VARIABLE}" if not device and not _forced else "device"
        raise errors.ConfigError(f"{where}={name!r} is not one of {', '.join(DEVICES)}")
    return detected_device() if name == "auto" else name


def choices(device=None):
    """The `Choices` for `device` (None / "auto" = as `resolve` finds it)."""
    gpu = resolve(device) == "gpu"
    return Choices(device="gpu" if gpu else "cpu", cudnn_lstm=gpu, plain_conv3d=gpu, keras_batch_norm=gpu,
                   jit_compile=gpu)


@contextlib.contextmanager
def forced(device):
    """Within the block, `choices()` answers for `device` ("cpu", "gpu" or "auto") whatever the machine."""
    resolve(device)  # validate before changing anything
    _forced.append(device)
    try:
        yield choices(device)
    finally:
        _forced.pop()
