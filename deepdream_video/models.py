"""InceptionV3 for dreaming: cut at the deepest dream layer, BatchNorm folded, rewritten for speed.

Dreaming only runs the network forward and back to its *input*, never trains it, so the Keras
graph is re-expressed as plain TF ops with the same arithmetic, arranged for oneDNN on a CPU:
  * only the layers the dream layers depend on are kept;
  * each Conv2D -> BatchNormalization -> ReLU becomes one conv with a bias (BN folded into the
    kernel), so everything stays in the compute dtype (Keras 3 BatchNormalization casts
    bfloat16 back to float32) and oneDNN fuses conv + bias + ReLU;
  * pool branches run their 1x1 conv before the average pool (on fewer channels);
  * the 1x1 convs that open an Inception block's branches run as one wider conv;
  * stride-1 convs take their input gradient as a forward conv with the transposed kernel.
"""
import dataclasses
import functools

import keras
import numpy as np
import tensorflow as tf

from videocore import errors
from videocore import layers as core_layers


@functools.lru_cache(maxsize=2)
def inception_v3(weights="auto"):
    """The Keras InceptionV3 without its classifier (layer names `mixed0` ... `mixed10`).

    Cached: `DreamNet` copies the weights it needs, so one model serves every dreamer.

    Args:
      weights: "auto" (offline converted ImageNet weights, see `videocore.inception`), "imagenet"
        (Keras download), a path to a weights file, or None (random init; tests of shapes only).
    Returns:
      keras.Model taking float RGB (B, H, W, 3) in [-1, 1].
    Raises:
      UserInputError: weights missing, with how to get them.
    """
    from videocore import inception  # deferred: its import converts nothing, but pulls in keras apps
    return inception.inception_v3(variant="keras", weights=weights, include_top=False)


@dataclasses.dataclass(frozen=True)
class _Op:
    """One node of the folded network: a conv(+bias+ReLU), a pooling or a concatenation."""

    kind: str  # "input" | "conv" | "max_pool" | "avg_pool" | "concat" | "part" (of a split conv) | "bias"
    name: str  # the Keras layer whose output this op produces
    inputs: tuple = ()  # indices of earlier ops
    window: tuple = (1, 1)  # kernel or pool size (h, w)
    strides: tuple = (1, 1)
    padding: str = "VALID"
    channels: int = 3  # output channels
    relu: bool = False
    split: tuple = ()  # conv: channels of each part it is split into; part: (which part,)


def _window_output(size, window, stride, padding):
    """Output length of a conv/pool along one axis (works on ints and integer tensors)."""
    if padding == "SAME":
        return (size + stride - 1) // stride
    return (size - window) // stride + 1


def _transposed_kernel(kernel):
    """The kernel whose stride-1 convolution is the input gradient of `kernel`'s: flipped in
    space, input and output channels swapped. (kh, kw, in, out) -> (kh, kw, out, in)."""
    return np.ascontiguousarray(np.transpose(kernel[::-1, ::-1], (0, 1, 3, 2)))


def _conv_with_forward_gradient(x, kernel, bias, transposed, padding, relu):
    """Stride-1 conv + bias (+ ReLU) whose input gradient is computed as a forward convolution.

    Mathematically TF's own gradient; but oneDNN's forward convolution with a constant filter
    runs faster than its backward-data primitive (which pays a fixed cost per call that
    dominates at small octaves). Returns (B, H', W', C_out) in x's dtype.
    """
    @tf.custom_gradient
    def conv(x):
        y = tf.nn.conv2d(x, kernel, 1, padding)
        if bias is not None:
            y = tf.nn.bias_add(y, bias)
        if relu:
            y = tf.nn.relu(y)

        def gradient(dy):
            if relu:
                dy = tf.raw_ops.ReluGrad(gradients=dy, features=y)
            if padding == "VALID":
                kh, kw = kernel.shape[0], kernel.shape[1]
                dy = tf.pad(dy, [[0, 0], [kh - 1, kh - 1], [kw - 1, kw - 1], [0, 0]])
            return tf.nn.conv2d(dy, transposed, 1, padding)

        return y, gradient

    return conv(x)


class DreamNet(tf.Module):
    """InceptionV3 up to the deepest of `layer_names`, BN folded, in `compute_dtype`.

    Calling it maps images (B, H, W, 3) float32 in [-1, 1] to a list of float32 activations
    (B, h_i, w_i, C_i), one per name in `layer_names`, in that order.

    Args:
      model: a Keras InceptionV3 (Conv2D [-> BatchNormalization] -> ReLU units, pools, concats).
      layer_names: Keras layer names whose activations are returned.
      compute_dtype: "float32", "bfloat16" or "float16".
      merge_pointwise, forward_gradients, pool_after_pointwise: the rewrites in the module
        docstring (on by default; off reproduces the plain folded graph, for benchmarks).
    """

    def __init__(self, model, layer_names, compute_dtype="float32", merge_pointwise=True, forward_gradients=True,
                 pool_after_pointwise=True):
        super().__init__(name="dream_net")
        self.forward_gradients = forward_gradients
        self.layer_names = tuple(layer_names)
        self.compute_dtype = tf.as_dtype(compute_dtype)
        producer = {}
        for layer in model.layers:
            producer[id(layer.output)] = layer
        self._ops = []
        self._weights = []  # (kernel or None, bias or None) per op, None for weightless ops
        index_of_layer = {}

        def visit(layer):
            """Appends `layer`'s op (after its inputs') and returns its index."""
            if layer.name in index_of_layer:
                return index_of_layer[layer.name]
            op, weights = self._fold(layer, producer, visit)
            self._ops.append(op)
            self._weights.append(weights)
            index_of_layer[layer.name] = len(self._ops) - 1
            return index_of_layer[layer.name]

        names = {layer.name for layer in model.layers}
        self._outputs = []
        for name in self.layer_names:
            if name not in names:
                raise errors.UserInputError(f"layer {name!r} is not in the model")
            self._outputs.append(visit(model.get_layer(name)))
        if pool_after_pointwise:
            self._pool_after_pointwise()
        if merge_pointwise:
            self._merge_pointwise()
        self._constants = [None if w is None else tuple(None if a is None else tf.constant(a, self.compute_dtype)
                                                        for a in w) for w in self._weights]

    def _pool_after_pointwise(self):
        """Swaps each "average pool -> 1x1 conv" pool branch into "1x1 conv -> average pool -> bias".

        Both are linear per pixel before the bias (SAME average pooling divides each pixel by its
        own count, a per-pixel scalar that commutes with the channel mixing), so the result is
        the same; but the pooling and its gradient then run on the conv's 32-192 output channels
        instead of the block's 192-768 input channels.
        """
        consumers = {}
        for index, op in enumerate(self._ops):
            for source in op.inputs:
                consumers.setdefault(source, []).append(index)
        swaps = {}
        for index, op in enumerate(self._ops):
            users = consumers.get(index, [])
            if (op.kind == "avg_pool" and op.strides == (1, 1) and op.padding == "SAME" and len(users) == 1
                    and self._ops[users[0]].kind == "conv" and self._ops[users[0]].window == (1, 1)
                    and self._ops[users[0]].strides == (1, 1) and index not in self._outputs):
                swaps[index] = users[0]
        ops, weights, new_index = [], [], {}
        for index, op in enumerate(self._ops):
            if index in swaps:
                conv = self._ops[swaps[index]]
                kernel, bias = self._weights[swaps[index]]
                ops.append(dataclasses.replace(conv, name=conv.name + "/linear", inputs=(new_index[op.inputs[0]],),
                                               relu=False))
                weights.append((kernel, None))
                ops.append(dataclasses.replace(op, inputs=(len(ops) - 1,), channels=conv.channels))
                weights.append(None)
                ops.append(_Op("bias", conv.name, (len(ops) - 1,), channels=conv.channels, relu=conv.relu))
                weights.append((None, bias))
                new_index[swaps[index]] = len(ops) - 1
            elif index not in swaps.values():
                ops.append(dataclasses.replace(op, inputs=tuple(new_index[i] for i in op.inputs)))
                weights.append(self._weights[index])
                new_index[index] = len(ops) - 1
        self._ops, self._weights = ops, weights
        self._outputs = [new_index[i] for i in self._outputs]

    def _merge_pointwise(self):
        """Merges the 1x1 convolutions that read the same tensor into one wider convolution.

        Inception blocks open three branches with 1x1 convs of one input; as one conv whose output
        is split, the forward pass runs one larger (faster) matrix product and the backward pass
        one input gradient instead of three plus their sum. Same arithmetic, fewer and larger ops.
        """
        groups = {}
        for index, op in enumerate(self._ops):
            has_bias = op.kind == "conv" and self._weights[index][1] is not None
            if has_bias and op.window == (1, 1) and op.strides == (1, 1):
                groups.setdefault((op.inputs, op.relu), []).append(index)
        merged = {members[0]: members for members in groups.values() if len(members) > 1}
        member_of = {index: members[0] for members in merged.values() for index in members}
        ops, weights, new_index = [], [], {}
        for index, op in enumerate(self._ops):
            inputs = tuple(new_index[i] for i in op.inputs)
            if index in merged:
                members = merged[index]
                parts = [self._ops[i] for i in members]
                ops.append(dataclasses.replace(op, kind="conv", name="+".join(p.name for p in parts), inputs=inputs,
                                               channels=sum(p.channels for p in parts),
                                               split=tuple(p.channels for p in parts)))
                weights.append((np.concatenate([self._weights[i][0] for i in members], axis=-1),
                                np.concatenate([self._weights[i][1] for i in members], axis=-1)))
                for part, (member, member_op) in enumerate(zip(members, parts)):
                    ops.append(_Op("part", member_op.name, (len(ops) - 1 - part,), channels=member_op.channels,
                                   split=(part,)))
                    weights.append(None)
                    new_index[member] = len(ops) - 1
            elif index not in member_of:
                ops.append(dataclasses.replace(op, inputs=inputs))
                weights.append(self._weights[index])
                new_index[index] = len(ops) - 1
        self._ops, self._weights = ops, weights
        self._outputs = [new_index[i] for i in self._outputs]

    def _fold(self, layer, producer, visit):
        """The op for one Keras layer; a ReLU over BN over Conv2D becomes one folded conv."""
        def source(tensor):
            return visit(producer[id(tensor)])

        if isinstance(layer, keras.layers.InputLayer):
            return _Op("input", layer.name), None
        if isinstance(layer, keras.layers.Concatenate):
            inputs = tuple(source(t) for t in layer.input)
            channels = sum(self._ops[i].channels for i in inputs)
            return _Op("concat", layer.name, inputs, channels=channels), None
        if isinstance(layer, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)):
            inputs = (source(layer.input),)
            kind = "max_pool" if isinstance(layer, keras.layers.MaxPooling2D) else "avg_pool"
            return _Op(kind, layer.name, inputs, tuple(layer.pool_size), tuple(layer.strides),
                       layer.padding.upper(), self._ops[inputs[0]].channels), None
        relu = False
        if isinstance(layer, keras.layers.Activation):
            if layer.get_config()["activation"] != "relu":
                raise ValueError(f"{layer.name}: only ReLU activations are supported")
            relu, layer = True, producer[id(layer.input)]
        batch_norm = None
        if isinstance(layer, keras.layers.BatchNormalization):
            batch_norm, layer = layer, producer[id(layer.input)]
        if not isinstance(layer, keras.layers.Conv2D):
            raise ValueError(f"{layer.name}: unsupported layer {type(layer).__name__} for dreaming")
        config = layer.get_config()
        if config["activation"] not in ("linear", None) or config["data_format"] != "channels_last":
            raise ValueError(f"{layer.name}: only linear channels_last convolutions are supported")
        kernel = np.asarray(layer.kernel.numpy(), np.float32)  # (kh, kw, in, out)
        bias = np.asarray(layer.bias.numpy(), np.float32) if layer.use_bias else np.zeros(kernel.shape[-1], np.float32)
        if batch_norm is not None:
            kernel, bias = core_layers.fold_batch_norm(
                kernel, bias, batch_norm.moving_mean.numpy(), batch_norm.moving_variance.numpy(), batch_norm.epsilon,
                gamma=batch_norm.gamma.numpy() if batch_norm.scale else None,
                beta=batch_norm.beta.numpy() if batch_norm.center else None)
        inputs = (source(layer.input),)
        op = _Op("conv", layer.name, inputs, tuple(layer.kernel_size), tuple(layer.strides),
                 layer.padding.upper(), kernel.shape[-1], relu)
        return op, (kernel, bias)

    def graph_constants(self):
        """The weights as constants of the graph being traced (call inside a tf.function, once).

        Captured tensors reach the graph as inputs; Const nodes let oneDNN treat the filters as
        constant and keep them in its own layout between steps.
        """
        def constant(array):
            return None if array is None else tf.constant(array.numpy())

        return [None if w is None else (constant(w[0]), constant(w[1]), None if w[0] is None else
                                        tf.constant(_transposed_kernel(w[0].numpy()))) for w in self._constants]

    def __call__(self, images, constants=None):
        """images (B, H, W, 3) float32 in [-1, 1] -> list of float32 (B, h, w, C) activations.

        constants: from `graph_constants`, or None for the weights captured from eager tensors.
        """
        values = []
        for op, weights in zip(self._ops, constants or self._constants):
            if op.kind == "input":
                value = tf.cast(images, self.compute_dtype)
            elif op.kind == "conv":
                if op.strides == (1, 1) and len(weights) == 3 and self.forward_gradients:
                    value = _conv_with_forward_gradient(values[op.inputs[0]], *weights, op.padding, op.relu)
                else:
                    value = tf.nn.conv2d(values[op.inputs[0]], weights[0], (1,) + op.strides + (1,), op.padding)
                    if weights[1] is not None:
                        value = tf.nn.bias_add(value, weights[1])
                    if op.relu:
                        value = tf.nn.relu(value)
                if op.split:
                    value = tf.split(value, op.split, axis=-1)
            elif op.kind == "part":
                value = values[op.inputs[0]][op.split[0]]
            elif op.kind == "bias":
                value = tf.nn.bias_add(values[op.inputs[0]], weights[1])
                if op.relu:
                    value = tf.nn.relu(value)
            elif op.kind == "max_pool":
                value = tf.nn.max_pool2d(values[op.inputs[0]], op.window, op.strides, op.padding)
            elif op.kind == "avg_pool":
                value = tf.nn.avg_pool2d(values[op.inputs[0]], op.window, op.strides, op.padding)
            else:
                value = tf.concat([values[i] for i in op.inputs], axis=-1)
            values.append(value)
        return [tf.cast(values[i], tf.float32) for i in self._outputs]

    def channels(self, layer_name):
        """Number of channels of a dream layer's activation."""
        return self._ops[self._outputs[self.layer_names.index(layer_name)]].channels

    def parameter_count(self):
        """Number of folded weights (kernels and biases) the kept layers hold."""
        return sum(int(np.prod(array.shape)) for weights in filter(None, self._constants)
                   for array in weights if array is not None)

    def _sizes(self, height, width):
        """Spatial size (h, w) of every op's output for an input of height x width."""
        sizes = []
        for op in self._ops:
            if op.kind == "input":
                sizes.append((height, width))
            elif op.kind == "concat":
                sizes.append(sizes[op.inputs[0]])
            else:
                h, w = sizes[op.inputs[0]]
                sizes.append((_window_output(h, op.window[0], op.strides[0], op.padding),
                              _window_output(w, op.window[1], op.strides[1], op.padding)))
        return sizes

    def output_size(self, layer_name, height, width):
        """(h, w) of a dream layer's activation for an input of height x width (ints or int tensors)."""
        return self._sizes(height, width)[self._outputs[self.layer_names.index(layer_name)]]

    def stride(self):
        """Product of strides from the input to the deepest dream layer (tile offsets must be multiples)."""
        strides = [1] * len(self._ops)
        for index, op in enumerate(self._ops):
            if op.inputs:
                strides[index] = max(strides[i] for i in op.inputs) * op.strides[0]
        return max(strides[i] for i in self._outputs)

    def receptive_field(self, layer_name):
        """Side of the square input window that one activation of `layer_name` depends on (pixels)."""
        sides = []
        for axis in (0, 1):
            fields, strides = [1] * len(self._ops), [1] * len(self._ops)
            for index, op in enumerate(self._ops):
                if not op.inputs:
                    continue
                stride = max(strides[i] for i in op.inputs)
                fields[index] = max(fields[i] for i in op.inputs) + (op.window[axis] - 1) * stride
                strides[index] = stride * op.strides[axis]
            sides.append(fields[self._outputs[self.layer_names.index(layer_name)]])
        return max(sides)

    def activation_bytes(self, height, width):
        """Bytes of all intermediate activations for one height x width image (the forward pass kept
        for the backward one); a memory estimate's main term."""
        itemsize = self.compute_dtype.size
        return sum(h * w * op.channels * itemsize for (h, w), op in zip(self._sizes(height, width), self._ops))

    def flops(self, height, width):
        """Multiply-adds x 2 of the convolutions for one forward pass at height x width."""
        total = 0
        for (h, w), op in zip(self._sizes(height, width), self._ops):
            if op.kind == "conv":
                in_channels = self._ops[op.inputs[0]].channels
                total += 2 * h * w * op.channels * in_channels * op.window[0] * op.window[1]
        return total
