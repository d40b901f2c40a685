"""Layers that compute exactly what Keras' do, faster on this CPU (oneDNN, bf16), each measured.

- batch_norm: `videocore.layers.batch_norm` (on CPU its BatchNormalization: TF's fused kernel, bf16
  in and out, float32 statistics). Keras 3's
  `BatchNormalization` casts bfloat16 inputs to float32 and back (DESIGN.md), which wraps every
  3D deconvolution of the generator in two full-size casts and a float32 pass; the fused
  kernel is one oneDNN primitive forwards and one backwards (~2x faster on a (16, 16, 32, 32, 64)
  bf16 activation). Any rank >= 2 works: every axis but the channels is folded into NHWC.
- PixelConv3D / PixelConv3DTranspose: the 3-channel layers of the critic and the generator.
- leaky_relu / LeakyReLU: no extra backward pass of zeros under the gradient penalty.
- SmallMapConv2D / SmallMapConv2DTranspose: the frame predictor's layers on 8x8 and 4x4 maps.
"""
import keras
import tensorflow as tf

from videocore import layers as videocore_layers


# What the models call: the fused one on CPU, Keras' on GPU (videocore.device decides).
batch_norm = videocore_layers.batch_norm


# ----------------------------------------------------------------------------- pixel-side convolutions
#
# oneDNN's 3D convolution kernels are slow when one side has only 3 channels: the critic's first
# layer (its input gradient, needed by the gradient penalty) and the generator's RGB layer (a
# transposed convolution, i.e. an input-gradient kernel writing 3 channels) ran at ~70 GFLOP/s
# where the inner layers run at ~450. A 4x4x4 stride-2 convolution equals a 2x2x2 stride-1
# convolution on the 2x2x2 space-to-depth blocks of its input (8x the channels), and its
# transpose equals a 2x2x2 convolution to 8x the channels followed by depth-to-space. Same
# kernel variable, same arithmetic, measured 2-3x faster for these two layers.


def _sides(x):
    """(depth, height, width) of a (B, D, H, W, C) tensor: static where known, else dynamic."""
    dynamic = tf.shape(x)
    return [side if side is not None else dynamic[axis] for axis, side in zip((1, 2, 3), x.shape[1:4])]


def space_to_depth(x):
    """(B, 2d, 2h, 2w, C) -> (B, d, h, w, 8C), channels ordered (depth parity, row parity, column parity, C)."""
    depth, height, width = _sides(x)
    channels = x.shape[-1]
    x = tf.reshape(x, [-1, depth // 2, 2, height // 2, 2, width // 2, 2, channels])
    x = tf.transpose(x, [0, 1, 3, 5, 2, 4, 6, 7])
    return tf.reshape(x, [-1, depth // 2, height // 2, width // 2, 8 * channels])


def depth_to_space(x, channels):
    """Inverse of `space_to_depth`: (B, d, h, w, 8C) -> (B, 2d, 2h, 2w, C)."""
    depth, height, width = _sides(x)
    x = tf.reshape(x, [-1, depth, height, width, 2, 2, 2, channels])
    x = tf.transpose(x, [0, 1, 4, 2, 5, 3, 6, 7])
    return tf.reshape(x, [-1, 2 * depth, 2 * height, 2 * width, channels])


def _pad_one(x):
    return tf.pad(x, [[0, 0], [1, 1], [1, 1], [1, 1], [0, 0]])


def _check_pixel_layer(layer):
    if tuple(layer.kernel_size) != (4, 4, 4) or tuple(layer.strides) != (2, 2, 2) or layer.padding != "same":
        raise ValueError(f"{type(layer).__name__} is for 4x4x4 kernels, stride 2, 'same' padding")


def strided_conv_by_blocks(x, kernel):
    """conv3d(x, kernel, stride 2, SAME) for a 4x4x4 kernel (4, 4, 4, C, O), as a 2x2x2 VALID convolution
    of the space-to-depth blocks of x padded by one: (B, D, H, W, C) -> (B, D/2, H/2, W/2, O). D, H, W even."""
    channels, outputs = kernel.shape[3], kernel.shape[4]
    # Kernel tap k = 2q + r: block offset q, parity r, matching the blocks' channel order.
    blocks_kernel = tf.reshape(kernel, [2, 2, 2, 2, 2, 2, channels, outputs])
    blocks_kernel = tf.transpose(blocks_kernel, [0, 2, 4, 1, 3, 5, 6, 7])
    blocks_kernel = tf.reshape(blocks_kernel, [2, 2, 2, 8 * channels, outputs])
    return tf.nn.conv3d(space_to_depth(_pad_one(x)), blocks_kernel, [1, 1, 1, 1, 1], "VALID")


def _transposed_conv_by_blocks(x, kernel):
    channels_out, channels_in = kernel.shape[3], kernel.shape[4]
    # Output position i + 1 = 2 * block + parity receives input blocks block - 1 + t through tap 2 (1 - t) + parity.
    blocks_kernel = tf.reshape(kernel, [2, 2, 2, 2, 2, 2, channels_out, channels_in])
    blocks_kernel = tf.reverse(blocks_kernel, [0, 2, 4])
    blocks_kernel = tf.transpose(blocks_kernel, [0, 2, 4, 7, 1, 3, 5, 6])
    blocks_kernel = tf.reshape(blocks_kernel, [2, 2, 2, channels_in, 8 * channels_out])
    blocks = tf.nn.conv3d(_pad_one(x), blocks_kernel, [1, 1, 1, 1, 1], "VALID")
    return depth_to_space(blocks, channels_out)[:, 1:-1, 1:-1, 1:-1]


@tf.custom_gradient
def transposed_conv_by_blocks(x, kernel):
    """conv3d_transpose(x, kernel, stride 2, SAME) for a 4x4x4 kernel (4, 4, 4, O, C): (B, d, h, w, C) ->
    (B, 2d, 2h, 2w, O). Forwards by blocks; backwards with TF's own kernels, which are the fast ones there."""
    def gradient(upstream):
        strides = [1, 2, 2, 2, 1]
        d_x = tf.nn.conv3d(upstream, kernel, strides, "SAME")
        d_kernel = tf.raw_ops.Conv3DBackpropFilterV2(input=upstream, filter_sizes=tf.shape(kernel),
                                                     out_backprop=x, strides=strides, padding="SAME")
        return d_x, d_kernel

    return _transposed_conv_by_blocks(x, kernel), gradient


class PixelConv3D(keras.layers.Conv3D):
    """`keras.layers.Conv3D` (4x4x4, stride 2, same) computed by `strided_conv_by_blocks`; for few input channels.

    Same variables and outputs as Conv3D; twice differentiable (plain ops), as the gradient penalty needs.
    """

    def build(self, input_shape):
        _check_pixel_layer(self)
        super().build(input_shape)

    def convolution_op(self, inputs, kernel):
        return strided_conv_by_blocks(inputs, kernel)


class PixelConv3DTranspose(keras.layers.Conv3DTranspose):
    """`keras.layers.Conv3DTranspose` (4x4x4, stride 2, same) computed by `transposed_conv_by_blocks`; for few
    output channels. Same variables and outputs as Conv3DTranspose; differentiable once."""

    def build(self, input_shape):
        _check_pixel_layer(self)
        super().build(input_shape)

    def call(self, inputs):
        outputs = transposed_conv_by_blocks(inputs, tf.cast(self.kernel, inputs.dtype))
        if self.use_bias:
            outputs = outputs + tf.cast(self.bias, outputs.dtype)
        return self.activation(outputs) if self.activation is not None else outputs


def leaky_relu(x, negative_slope):
    """max(x, slope * x) with TF's fused kernels forwards and backwards, and without the zeros TF's own
    second derivative adds: d/dx of the backward pass is left out (the slope mask is piecewise constant).

    TF's gradient of LeakyReluGrad returns zeros_like(x) for x, and the gradient penalty's double
    backward then runs a whole extra backward pass of zeros through the critic's convolutions (a
    third weight-gradient convolution per layer and critic update); this never builds that pass.
    """
    @tf.custom_gradient
    def forward(x):
        def backward(upstream):
            return _leaky_relu_backward(upstream, x, negative_slope)

        return tf.nn.leaky_relu(x, negative_slope), backward

    return forward(x)


def _leaky_relu_backward(upstream, x, negative_slope):
    @tf.custom_gradient
    def backward(upstream):
        def second(upstream_of_gradient):  # linear in `upstream`: the same mask again
            return tf.raw_ops.LeakyReluGrad(gradients=upstream_of_gradient, features=x, alpha=negative_slope)

        return tf.raw_ops.LeakyReluGrad(gradients=upstream, features=x, alpha=negative_slope), second

    return backward(upstream)


class LeakyReLU(keras.layers.Layer):
    """`leaky_relu` as a layer: Keras' LeakyReLU values and gradients, cheaper under a double backward."""

    def __init__(self, negative_slope=0.2, **kwargs):
        super().__init__(**kwargs)
        self.negative_slope = float(negative_slope)

    def call(self, inputs):
        return leaky_relu(inputs, self.negative_slope)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


# ----------------------------------------------------------------------------- small-map convolutions
#
# The weight gradient of a 4x4 stride-2 convolution whose output map is small (8x8 or less, with
# hundreds of channels) runs slowly in oneDNN's backward-filter kernel: 0.158 s for the frame
# encoder's last layer on 496 frames. The same sum, dW[i, j, c, o] = sum_{b, y, x} x_pad[b, 2y + i,
# 2x + j, c] dy[b, y, x, o], is a stride-1 convolution dilated by 2 of the padded input with the
# output gradient as filter, the batch acting as channels: 0.053 s. Larger maps are faster as they
# are. (The 3D analogue sped up single critic layers but made the whole WGAN-GP step slower, so the
# 3D networks keep Keras' layers there.)


def _weight_gradient(x, upstream):
    """The filter gradient (4, 4, C, O) of a 4x4 stride-2 SAME convolution of x (B, H, W, C) whose output
    gradient is upstream (B, H/2, W/2, O); H, W even."""
    padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])
    channels_first = tf.transpose(padded, [3, 1, 2, 0])  # (C, H + 2, W + 2, B)
    as_filter = tf.transpose(upstream, [1, 2, 0, 3])  # (H/2, W/2, B, O)
    # tf.nn.conv2d, not tf.nn.convolution: the latter dilates through SpaceToBatchND, 2x slower here.
    gradient = tf.nn.conv2d(channels_first, as_filter, strides=1, padding="VALID", dilations=2)
    return tf.transpose(gradient, [1, 2, 0, 3])


@tf.custom_gradient
def _strided_conv(x, kernel):
    def gradient(upstream):
        d_x = tf.nn.conv2d_transpose(upstream, kernel, tf.shape(x), strides=2, padding="SAME")
        return d_x, _weight_gradient(x, upstream)

    return tf.nn.conv2d(x, kernel, strides=2, padding="SAME"), gradient


@tf.custom_gradient
def _strided_conv_transpose(x, kernel):
    shape = tf.shape(x)
    output_shape = tf.stack([shape[0], 2 * shape[1], 2 * shape[2], kernel.shape[2]])

    def gradient(upstream):
        # A transposed convolution's weight gradient is that of the convolution going the other way.
        return tf.nn.conv2d(upstream, kernel, strides=2, padding="SAME"), _weight_gradient(upstream, x)

    outputs = tf.nn.conv2d_transpose(x, kernel, output_shape, strides=2, padding="SAME")
    outputs.set_shape([x.shape[0], *(None if side is None else 2 * side for side in x.shape[1:3]), kernel.shape[2]])
    return outputs, gradient


class _SmallMapConv:
    """Mixin for Keras Conv2D layers: 4x4 kernels, stride 2, same padding, the dilated weight gradient."""

    def build(self, input_shape):
        if set(self.kernel_size) != {4} or set(self.strides) != {2} or self.padding != "same":
            raise ValueError(f"{type(self).__name__} is for 4-tap kernels, stride 2, 'same' padding")
        super().build(input_shape)

    def convolution_op(self, inputs, kernel):
        return _strided_conv(inputs, tf.cast(kernel, inputs.dtype))


class _SmallMapConvTranspose(_SmallMapConv):
    def call(self, inputs):
        outputs = _strided_conv_transpose(inputs, tf.cast(self.kernel, inputs.dtype))
        if self.use_bias:
            outputs = outputs + tf.cast(self.bias, outputs.dtype)
        return self.activation(outputs) if self.activation is not None else outputs


class SmallMapConv2D(_SmallMapConv, keras.layers.Conv2D):
    """`keras.layers.Conv2D` (4x4, stride 2, same) with the dilated weight gradient; for outputs of 8x8 or less.
    Same variables, outputs and gradients."""


class SmallMapConv2DTranspose(_SmallMapConvTranspose, keras.layers.Conv2DTranspose):
    """`keras.layers.Conv2DTranspose` (4x4, stride 2, same) with the dilated weight gradient; for inputs of
    8x8 or less. Same variables, outputs and gradients."""
