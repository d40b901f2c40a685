"""Keras application networks other than InceptionV3 for dreaming: weights, preprocessing, dreamable layers.

InceptionV3 (the default) has its own folded, sped-up graph in `models.py` and offline weights.
The others (VGG16, VGG19, ResNet50V2, InceptionResNetV2, EfficientNetB0) run as Keras models cut
at their dream layers (`KerasDreamNet`, the same interface as `models.DreamNet`), with
`--weights=imagenet` (Keras downloads them once, online) or a weights file. Each takes the image
in its own input range (its application's `preprocess_input`); dreams stay in [-1, 1].

Sizes, strides and the smallest image side of every layer come from walking the Keras graph with
integer arithmetic (`spatial_walk`), checked against Keras's own shape inference in the tests, so a
run refuses a size that cannot work before any weights load.
"""
import dataclasses
import functools
import os
import pathlib
import re
import warnings

import keras
import numpy as np
import tensorflow as tf

from videocore import errors
from videocore import precision


@dataclasses.dataclass(frozen=True)
class Application:
    """One Keras application: how to build it, where its ImageNet weights live, which layers dream."""

    constructor: str  # keras.applications attribute
    module: str  # keras.applications submodule holding its preprocess_input
    weights_file: str  # Keras's cached "imagenet" file (include_top=False) under ~/.keras/models
    dreamable: str  # regular expression over layer names: the blocks' outputs


APPLICATIONS = {
    "vgg16": Application("VGG16", "vgg16", "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
                         r"block\d_conv\d"),
    "vgg19": Application("VGG19", "vgg19", "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
                         r"block\d_conv\d"),
    "resnet50v2": Application("ResNet50V2", "resnet_v2", "resnet50v2_weights_tf_dim_ordering_tf_kernels_notop.h5",
                              r"conv\d_block\d+_out|post_relu"),
    "inception_resnet_v2": Application(
        "InceptionResNetV2", "inception_resnet_v2", "inception_resnet_v2_weights_tf_dim_ordering_tf_kernels_notop.h5",
        r"mixed_\w+|block(35|17|8)_\d+_ac|conv_7b_ac"),
    # A block's output is its residual `add`, or `project_bn` in blocks without one.
    "efficientnet_b0": Application("EfficientNetB0", "efficientnet", "efficientnetb0_notop.h5",
                                   r"block\d[a-z]_(add|project_bn)|top_activation"),
}
_DTYPE_TO_POLICY = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}


def keras_weights_path(name):
    """Where Keras keeps (or would download) the model's "imagenet" weights without the classifier."""
    home = pathlib.Path(os.environ.get("KERAS_HOME", pathlib.Path.home() / ".keras"))
    return home / "models" / APPLICATIONS[name].weights_file


@functools.lru_cache(maxsize=2)
def network(name, weights="imagenet", compute_dtype="float32"):
    """The Keras application `name` without its classifier, input (B, H, W, 3) in its own range.

    Args:
      name: a key of APPLICATIONS.
      weights: "imagenet" (or "auto": Keras's download, cached in ~/.keras/models), a weights file,
        or "random" (random init: tests and layer tables only).
      compute_dtype: "float32", "bfloat16" or "float16" (the layers' dtype policy; weights float32).
    Raises:
      UserInputError: offline without the cached download, a missing or unfitting weights file.
    """
    constructor = getattr(keras.applications, APPLICATIONS[name].constructor)
    with precision.policy_scope(_DTYPE_TO_POLICY[compute_dtype]), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "input shape undefined, default size ignored" etc.
        if weights in ("auto", "imagenet"):
            try:
                return constructor(include_top=False, weights="imagenet")
            except Exception as error:  # offline: urllib / socket errors surface as several types
                cached = keras_weights_path(name)
                if cached.is_file():
                    raise errors.CheckpointError(f"{cached}: cannot load as {name} weights "
                                                 f"({str(error).splitlines()[0]}); delete it to download again") from None
                raise errors.UserInputError(
                    f"weights 'imagenet' for {name} need a download: run once online (Keras keeps them in "
                    f"{cached.parent}) or pass --weights=FILE") from None
        model = constructor(include_top=False, weights=None)
    if weights in ("random", "none", None):
        return model
    path = pathlib.Path(weights)
    if not path.is_file():
        raise errors.UserInputError(f"{path}: weights file not found (weights is imagenet, auto, random or a file)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.load_weights(str(path))
    except Exception as error:  # Keras raises ValueError, OSError or h5py errors for foreign files
        raise errors.CheckpointError(f"{path}: cannot load as {name} weights: {str(error).splitlines()[0]}") from None
    return model


def preprocess(name):
    """The function taking images in [-1, 1] to `name`'s input: its application's `preprocess_input`
    applied to 0..255 RGB (VGG: BGR minus the ImageNet mean; ResNet50V2, InceptionResNetV2: [-1, 1];
    EfficientNet: 0..255, it normalises inside)."""
    module = getattr(keras.applications, APPLICATIONS[name].module)
    return lambda images: module.preprocess_input((images + 1.0) * 127.5)


# ----------------------------------------------------------------------------- the graph walked with integers


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _length(size, window, stride, padding):
    """Output length along one axis; 0 once nothing is left."""
    if size < 1:
        return 0
    if padding == "same":
        return -(-size // stride)
    return max(0, (size - window) // stride + 1)


def _inputs(layer):
    tensors = layer.input
    return list(tensors) if isinstance(tensors, (list, tuple)) else [tensors]


def spatial_walk(model, height, width):
    """{layer name: (h, w, stride)} for an input of height x width: every layer's output size (0 where
    the input is too small) and its stride from the input; None for non-spatial layers (pooled
    vectors, e.g. EfficientNet's squeeze-and-excitation)."""
    producer = {id(layer.output): layer for layer in model.layers}
    result = {}

    def visit(layer):
        if layer.name in result:
            return result[layer.name]
        if isinstance(layer, keras.layers.InputLayer):
            value = (height, width, 1)
        else:
            sources = [visit(producer[id(tensor)]) for tensor in _inputs(layer)]
            spatial = [source for source in sources if source is not None]
            h, w, stride = max(spatial, key=lambda source: source[0] * source[1]) if spatial else (0, 0, 1)
            if isinstance(layer, (keras.layers.GlobalAveragePooling2D, keras.layers.GlobalMaxPooling2D,
                                  keras.layers.Reshape, keras.layers.Dense)) or not spatial:
                value = None
            elif isinstance(layer, keras.layers.ZeroPadding2D):
                (top, bottom), (left, right) = layer.padding
                value = (h + top + bottom if h else 0, w + left + right if w else 0, stride)
            elif isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.MaxPooling2D,
                                    keras.layers.AveragePooling2D)):
                pooling = isinstance(layer, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D))
                window = _pair(layer.pool_size if pooling else layer.kernel_size)
                dilation = (1, 1) if pooling else _pair(layer.dilation_rate)
                window = tuple((k - 1) * d + 1 for k, d in zip(window, dilation))
                strides = _pair(layer.strides)
                value = (_length(h, window[0], strides[0], layer.padding), _length(w, window[1], strides[1], layer.padding),
                         stride * strides[0])
            else:  # element-wise, normalisation, concatenation, residual adds: the size of their input
                value = (h, w, stride)
        result[layer.name] = value
        return value

    for layer in model.layers:
        visit(layer)
    return result


@dataclasses.dataclass(frozen=True)
class LayerInfo:
    """A dreamable layer: its stride from the input, the smallest image side it accepts, its channels."""

    name: str
    stride: int
    min_side: int
    channels: int


@functools.lru_cache(maxsize=None)
def layer_table(name):
    """The dreamable layers of `name`, shallowest first, as LayerInfo; from the graph built once
    with random weights (no download)."""
    model = network(name, "random")
    pattern = re.compile(APPLICATIONS[name].dreamable)
    names = [layer.name for layer in model.layers if pattern.fullmatch(layer.name)]
    if name.startswith("efficientnet"):  # a block with a residual add: its project_bn is not the output
        names = [n for n in names if not (n.endswith("_project_bn") and n[:-len("project_bn")] + "add" in names)]
    min_sides, side = {}, 1
    while len(min_sides) < len(names):
        sizes = spatial_walk(model, side, side)
        for layer in names:
            if layer not in min_sides and sizes[layer] and min(sizes[layer][:2]) >= 1:
                min_sides[layer] = side
        side += 1
    strides = spatial_walk(model, 1024, 1024)
    return tuple(LayerInfo(layer, strides[layer][2], min_sides[layer], int(model.get_layer(layer).output.shape[-1]))
                 for layer in names)


class KerasDreamNet(tf.Module):
    """A Keras application cut at `layer_names`, with `models.DreamNet`'s interface.

    Calling it maps images (B, H, W, 3) float32 in [-1, 1] to a list of float32 activations
    (B, h_i, w_i, C_i), one per name in `layer_names`, in that order.

    Args:
      model: the Keras application (`network`), built in the compute dtype's policy.
      layer_names: layer names whose activations are returned.
      compute_dtype: the dtype its layers compute in (for memory estimates).
      preprocess: images in [-1, 1] -> the model's input range (`preprocess`).
    """

    def __init__(self, model, layer_names, compute_dtype, preprocess_fn):
        super().__init__(name="keras_dream_net")
        self.layer_names = tuple(layer_names)
        self.compute_dtype = tf.as_dtype(compute_dtype)
        self._model = model
        names = {layer.name for layer in model.layers}
        for layer_name in self.layer_names:
            if layer_name not in names:
                raise errors.UserInputError(f"layer {layer_name!r} is not in the model")
        self._features = keras.Model(model.input, [model.get_layer(n).output for n in self.layer_names])
        self._preprocess = preprocess_fn
        deepest = max(model.layers.index(model.get_layer(n)) for n in self.layer_names)
        self._used = model.layers[:deepest + 1]  # layers up to the deepest dream layer (estimates)

    def __call__(self, images, constants=None):
        """images (B, H, W, 3) float32 in [-1, 1] -> list of float32 (B, h, w, C); `constants` unused."""
        del constants
        outputs = self._features(self._preprocess(images), training=False)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        return [tf.cast(output, tf.float32) for output in outputs]

    def graph_constants(self):
        """No folded constants: the Keras layers' variables are captured."""
        return None

    def channels(self, layer_name):
        return int(self._model.get_layer(layer_name).output.shape[-1])

    @functools.lru_cache(maxsize=64)
    def _walk(self, height, width):
        return spatial_walk(self._model, height, width)

    def output_size(self, layer_name, height, width):
        """(h, w) of a dream layer's activation for an input of height x width (ints)."""
        return self._walk(int(height), int(width))[layer_name][:2]

    def stride(self):
        """Largest stride from the input to a dream layer (tile offsets must be multiples)."""
        sizes = self._walk(1024, 1024)
        return max(sizes[name][2] for name in self.layer_names)

    def activation_bytes(self, height, width):
        """Bytes of the activations up to the deepest dream layer for one height x width image."""
        sizes = self._walk(int(height), int(width))
        total = 0
        for layer in self._used:
            size = sizes[layer.name]
            if size is not None:
                total += size[0] * size[1] * int(layer.output.shape[-1]) * self.compute_dtype.size
        return total

    def flops(self, height, width):
        """Multiply-adds x 2 of the convolutions up to the deepest dream layer, one forward pass."""
        sizes = self._walk(int(height), int(width))
        total = 0
        for layer in self._used:
            size = sizes[layer.name]
            if size is None or not isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)):
                continue
            kernel_h, kernel_w, in_channels, multiplier = layer.kernel.shape
            out_channels = multiplier if isinstance(layer, keras.layers.Conv2D) else in_channels * multiplier
            in_per_output = in_channels if isinstance(layer, keras.layers.Conv2D) else 1
            total += 2 * size[0] * size[1] * out_channels * in_per_output * kernel_h * kernel_w
        return total

    def parameter_count(self):
        return int(sum(np.prod(weight.shape) for weight in self._features.weights))
