"""Layers that compute exactly what Keras' do, faster on this CPU (oneDNN, bf16), each measured.

- batch_norm: `videocore.layers.batch_norm` (on CPU its BatchNormalization: TF's fused kernel, bf16
  in and out, float32 statistics). Keras 3's
  `BatchNormalization` casts bfloat16 inputs to float32 and back (DESIGN.md), which wraps every
  3D deconvolution of the generator in two full-size casts and a float32 pass; the fused
  kernel is one oneDNN primitive forwards and one backwards (~2x faster on a (16, 16, 32, 32, 64)
  bf16 activation). Any rank >= 2 works: every axis but the channels is folded into NHWC.
- PixelConv3D / PixelConv3DTranspose: the 3-channel layers of the critic and the generator.
- Conv3DAs2D / Conv3DTransposeAs2D: any 3D (de)convolution as 2D ones, one per temporal tap, for CPUs where
  TensorFlow runs without oneDNN and its Conv3D backward pass is ~100x slower than forward.
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


# ----------------------------------------------------------------------------- 3D convolutions as 2D ones
#
# TensorFlow runs its CPU kernels through oneDNN by default only on CPUs with AVX512_VNNI, AVX512_BF16,
# AVX_VNNI or AMX. Elsewhere (AVX2-only CPUs such as some EPYCs) Conv3D falls back to Eigen, whose
# backward pass runs thousands of tiny GEMMs: 2.2-3.8 s forward + backward for the demo critic's first
# layer (8x16x32x32x3 -> 16 channels) on a 2-core AVX2 EPYC against 11 ms forward, while Eigen's 2D
# convolutions are fast (oneDNN capped at AVX2, ONEDNN_MAX_CPU_ISA=AVX2, has no such slowdown). A 3D
# convolution is the sum over its kernel's temporal taps of 2D convolutions: tap k of output frame t
# reads input frame stride * t + k - pad, so each tap is one Conv2D over the frames it reads, folded
# into the batch. The transposed convolution scatters each tap's Conv2DTranspose into the output
# frames stride * t + k - pad. Same kernel variable, same arithmetic; every gradient (and the gradient
# penalty's second one) is then a 2D convolution's.
# Without oneDNN (TF_ENABLE_ONEDNN_OPTS=0 on an AVX-512 EPYC) the sums were 20-300x faster than Conv3D
# forward + backward at the demo's sizes and within 2x either way at the seed's; with oneDNN the native
# ops are 1-4x faster than the sums, so `videocore.device` picks per process (bench/bench_relive.py).


def _temporal_geometry(frames, taps, stride, padding):
    """(output frames, zero frames padded before) of a convolution over `frames` frames, TF's SAME / VALID rules."""
    if padding == "same":
        outputs = -(-frames // stride)
        return outputs, max((outputs - 1) * stride + taps - frames, 0) // 2
    return (frames - taps) // stride + 1, 0


def _tap_range(tap, stride, before, outputs, frames):
    """The output frames (first, last) of tap `tap` whose frame stride * t + tap - before lies in [0, frames)."""
    first = max(0, -((tap - before) // stride))
    last = min(outputs - 1, (frames - 1 - tap + before) // stride)
    return first, last


def _fold(x):
    """(B, n, H, W, C) -> (B * n, H, W, C)."""
    return tf.reshape(x, tf.concat([[-1], tf.shape(x)[2:]], 0))


def _unfold(y, frames, static_shape):
    """(B * n, H, W, C) -> (B, n, H, W, C), with the static sides of `static_shape` (B, H, W, C) kept."""
    y = tf.reshape(y, tf.concat([[-1, frames], tf.shape(y)[1:]], 0))
    y.set_shape([static_shape[0], frames, *static_shape[1:]])
    return y


def _frames(x, first, count):
    """x[:, first:first + count] as tf.slice, whose gradient is one Pad (a strided slice's was ~20 % of a step
    under Eigen); x itself when that is all of it."""
    if first == 0 and count == x.shape[1]:
        return x
    return tf.slice(x, [0, first] + [0] * (x.shape.rank - 2), [-1, count] + [-1] * (x.shape.rank - 2))


def _check_frames(x):
    if x.shape[1] is None:
        raise ValueError("3D convolutions as 2D ones need a static number of frames (axis 1)")
    return x.shape[1]


def conv3d_as_2d(x, kernel, strides=(1, 1, 1), padding="same"):
    """tf.nn.conv3d(x, kernel, strides, padding) as a sum over the kernel's temporal taps of tf.nn.conv2d.

    x: (B, D, H, W, C), D static; kernel: (kd, kh, kw, C, O); strides: (sd, sh, sw); padding: "same" or
    "valid" (TF's rules). Returns (B, D', H', W', O) in x's dtype. Differentiable any number of times.
    """
    frames, taps, stride = _check_frames(x), kernel.shape[0], strides[0]
    outputs, before = _temporal_geometry(frames, taps, stride, padding)
    ranges = {tap: _tap_range(tap, stride, before, outputs, frames) for tap in range(taps)}
    ranges = {tap: (first, last) for tap, (first, last) in ranges.items() if first <= last}
    # Frames stride * q + phase as (B, q, phase, ...): a tap's frames are then one plain slice (TF's strided
    # slice along the time axis was 10x slower than this reshape and slice).
    groups = -(-max(stride * last + tap - before + 1 for tap, (_, last) in ranges.items()) // stride)
    if groups * stride > frames:
        x = tf.pad(x, [[0, 0], [0, groups * stride - frames], [0, 0], [0, 0], [0, 0]])
    elif groups * stride < frames:  # trailing frames no tap reads (VALID)
        x = _frames(x, 0, groups * stride)
    phases = [x]
    if stride > 1:
        phased = tf.reshape(x, tf.concat([[-1, groups, stride], tf.shape(x)[2:]], 0))  # (B, D/sd, sd, H, W, C)
        phases = tf.unstack(phased, axis=2)  # stride x (B, D / stride, H, W, C); backwards one stack
    tap_kernels = tf.unstack(kernel)  # kd x (kh, kw, C, O); backwards one stack, as for the phases
    terms = []
    for tap, (first, last) in ranges.items():
        group, phase = divmod(stride * first + tap - before, stride)
        count = last - first + 1
        reads = _frames(phases[phase], group, count)  # (B, count, H, W, C): frames stride * t + tap - before
        y = tf.nn.conv2d(_fold(reads), tap_kernels[tap], strides[1:], padding.upper())
        y = _unfold(y, count, [x.shape[0], *y.shape[1:]])
        terms.append(tf.pad(y, [[0, 0], [first, outputs - 1 - last], [0, 0], [0, 0], [0, 0]]))
    return tf.add_n(terms)


def conv3d_transpose_as_2d(x, kernel, strides=(1, 1, 1), padding="same"):
    """tf.nn.conv3d_transpose as Keras' Conv3DTranspose calls it (output_padding None), as tf.nn.conv2d_transpose
    per temporal tap, each scattered into the output frames it writes.

    x: (B, d, h, w, C), d static; kernel: (kd, kh, kw, O, C); strides: (sd, sh, sw); padding "same" (output
    sides = input sides x stride) or "valid" ((side - 1) x stride + max(kernel, stride)). -> (B, D, H, W, O).
    """
    frames, taps, stride = _check_frames(x), kernel.shape[0], strides[0]
    sizes = [_transposed_size(side, size, step, padding)
             for side, size, step in zip(_sides(x), kernel.shape[:3], strides)]
    output_frames = sizes[0]
    _, before = _temporal_geometry(output_frames, taps, stride, padding)
    per_phase = -(-output_frames // stride)  # output frames stride * m + phase, m < per_phase
    phases = [[] for _ in range(stride)]
    batch = tf.shape(x)[0]
    tap_kernels = tf.unstack(kernel)  # kd x (kh, kw, O, C)
    for tap in range(taps):
        # Input frame t writes output frame stride * t + tap - before.
        first, last = _tap_range(tap, stride, before, frames, output_frames)
        if first > last:
            continue
        count = last - first + 1
        folded_shape = tf.stack([batch * count, sizes[1], sizes[2], kernel.shape[3]])
        z = tf.nn.conv2d_transpose(_fold(_frames(x, first, count)), tap_kernels[tap], folded_shape, strides[1:],
                                   padding.upper())
        z = _unfold(z, count, [x.shape[0], *(s if isinstance(s, int) else None for s in sizes[1:]),
                                kernel.shape[3]])
        offset, phase = divmod(stride * first + tap - before, stride)
        phases[phase].append(tf.pad(z, [[0, 0], [offset, per_phase - offset - count], [0, 0], [0, 0], [0, 0]]))
    sums = [tf.add_n(terms) if terms else None for terms in phases]  # each (B, per_phase, H, W, O)
    written = next(total for total in sums if total is not None)
    sums = [tf.zeros_like(written) if total is None else total for total in sums]  # a phase no tap writes (kd < sd)
    if stride == 1:
        return _frames(sums[0], 0, output_frames)
    woven = tf.stack(sums, axis=2)  # (B, per_phase, stride, H, W, O)
    shape = tf.shape(woven)
    woven = tf.reshape(woven, tf.concat([[shape[0], per_phase * stride], shape[3:]], 0))
    woven.set_shape([x.shape[0], per_phase * stride, *sums[0].shape[2:]])
    return _frames(woven, 0, output_frames)


def _transposed_size(side, kernel_size, stride, padding):
    """Keras' Conv3DTranspose output side (output_padding None)."""
    if padding == "same":
        return side * stride
    return (side - 1) * stride + max(kernel_size, stride)


def _check_as_2d(layer):
    if layer.data_format != "channels_last" or set(layer.dilation_rate) != {1} or getattr(layer, "groups", 1) != 1 \
            or getattr(layer, "output_padding", None) is not None:
        raise ValueError(f"{type(layer).__name__} is for channels-last layers without dilation, groups or "
                         "output_padding")


class Conv3DAs2D(keras.layers.Conv3D):
    """`keras.layers.Conv3D` computed by `conv3d_as_2d`: same variables, outputs and gradients (of any order)."""

    def build(self, input_shape):
        _check_as_2d(self)
        super().build(input_shape)

    def convolution_op(self, inputs, kernel):
        return conv3d_as_2d(inputs, tf.cast(kernel, inputs.dtype), self.strides, self.padding)


class Conv3DTransposeAs2D(keras.layers.Conv3DTranspose):
    """`keras.layers.Conv3DTranspose` computed by `conv3d_transpose_as_2d`: same variables, outputs and gradients."""

    def build(self, input_shape):
        _check_as_2d(self)
        super().build(input_shape)

    def call(self, inputs):
        outputs = conv3d_transpose_as_2d(inputs, tf.cast(self.kernel, inputs.dtype), self.strides, self.padding)
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
