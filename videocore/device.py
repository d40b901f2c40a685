"""Device-aware implementation choices: the one place that decides which layer variant each device gets.

The CPU variants (the hand-written LSTM of relive/recurrent.py, space-to-depth 3D convolutions in
relive/layers.py, the fused bf16 BatchNorm of videocore/layers.py, no XLA) were each measured
faster here on oneDNN (DESIGN.md). On a GPU the library kernels are the fast ones: cuDNN's LSTM
(keras.layers.LSTM), cuDNN's own 3D convolutions, Keras' BatchNormalization (it keeps float16
activations' statistics in float32, which is what loss-scaled float16 training wants), and XLA.
Every pair computes the same function from the same weights (tests/videocore/test_device.py).

3D convolutions are the one choice that depends on the CPU: TensorFlow runs its CPU ops through
oneDNN by default only on CPUs with AVX512_VNNI, AVX512_BF16, AVX_VNNI or AMX (or with
TF_ENABLE_ONEDNN_OPTS=1). Without oneDNN, e.g. on AVX2-only CPUs, its Conv3D backward pass is
Eigen's and can be 100x slower than forward (the demo critic's first layer: 8.3 s forward + backward,
44 ms forward, on an AVX-512 EPYC with TF_ENABLE_ONEDNN_OPTS=0), so such CPUs get relive's 3D
convolutions as sums of 2D ones ("conv2d": 28 ms there, the demo's WGAN-GP step 7-15x faster); with
oneDNN the native ops are 1-4x faster than those sums and stay ("native"), as on a GPU
(bench/bench_relive.py --only=layers,forms).

Force a branch with the environment variable NEURAL_VIDEO_DEVICE=cpu|gpu (e.g. to reproduce a GPU
run's graph on a CPU) or, in code, `with device.forced("gpu"):` around model building.
"""
import contextlib
import dataclasses
import os

import tensorflow as tf

from videocore import errors
from videocore import precision

DEVICES = ("auto", "cpu", "gpu")
CONV3D_FORMS = ("auto", "native", "conv2d")
# /proc/cpuinfo flags for which TensorFlow turns oneDNN on by default on Linux (its DefaultOneDnnPolicy).
ONEDNN_DEFAULT_CPU_FLAGS = frozenset({"avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16"})
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
    conv3d: str  # "native" (TF's Conv3D ops) or "conv2d" (relive.layers' sums of 2D convolutions per temporal tap)


def detected_device():
    """"gpu" when TensorFlow sees a GPU, else "cpu"."""
    return "gpu" if tf.config.list_physical_devices("GPU") else "cpu"


def onednn_enabled():
    """Whether TensorFlow runs its CPU kernels through oneDNN in this process ($TF_ENABLE_ONEDNN_OPTS, else
    TensorFlow's Linux default: on for CPUs with AVX512_VNNI, AVX512_BF16, AVX_VNNI or AMX)."""
    try:
        from tensorflow.python.util import _pywrap_util_port  # TF's own answer; private, hence the fallback
        return bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):
        asked = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "").strip().lower()
        if asked in ("0", "false", "1", "true"):
            return asked in ("1", "true")
        return bool(precision.cpu_flags() & ONEDNN_DEFAULT_CPU_FLAGS)


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
    conv3d = "native" if gpu or onednn_enabled() else "conv2d"
    return Choices(device="gpu" if gpu else "cpu", cudnn_lstm=gpu, plain_conv3d=gpu, keras_batch_norm=gpu,
                   jit_compile=gpu, conv3d=conv3d)


def conv3d_form(asked="auto", device=None):
    """("native" or "conv2d", why): `asked` if not "auto", else `choices(device).conv3d`. ConfigError for
    another name."""
    name = str(asked).strip().lower()
    if name not in CONV3D_FORMS:
        raise errors.ConfigError(f"conv3d={asked!r} is not one of {', '.join(CONV3D_FORMS)}")
    if name != "auto":
        return name, "asked for"
    chosen = choices(device)
    if chosen.device == "gpu":
        return chosen.conv3d, "auto: GPU (cuDNN)"
    return chosen.conv3d, f"auto: CPU, oneDNN {'on' if onednn_enabled() else 'off'}"


@contextlib.contextmanager
def forced(device):
    """Within the block, `choices()` answers for `device` ("cpu", "gpu" or "auto") whatever the machine."""
    resolve(device)  # validate before changing anything
    _forced.append(device)
    try:
        yield choices(device)
    finally:
        _forced.pop()
