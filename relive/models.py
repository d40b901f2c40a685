"""The networks of (Re)Live Photos: 3D-conv WGAN generator and critic, photo encoder, LSTM frame predictor.

Clips are channels-last (B, T, H, W, 3) in [-1, 1]; photos (B, H, W, 3) in [-1, 1]. Every size
comes from the config (`configs.py`); this file only wires layers. Under the mixed_bfloat16
policy the convolutions run in bf16 (oneDNN AMX kernels), the generator's batch norm is the
fused bf16 kernel of `layers.batch_norm`, and network outputs stay in the compute dtype:
losses cast them to float32. On a GPU `videocore.device` swaps in Keras' BatchNorm, plain 3D convolutions
and cuDNN's LSTM (same weights, same function); on a CPU without oneDNN it picks 3D convolutions computed as
sums of 2D ones (config.conv3d).
"""
import math

import keras
import tensorflow as tf

from relive import layers
from relive import losses
from relive import motion
from relive import recurrent
from relive import rollouts
from videocore import device
from videocore import errors


# ----------------------------------------------------------------------------- sizes


def upsampling_steps(config):
    """Number of stride-2 layers between the latent code and the clip, checked against the sizes.

    Raises ConfigError unless clip frames / latent frames == frame size / latent size == 2**n.
    """
    latent_frames, latent_height, latent_width, _ = config.generator.latent_shape
    ratios = {config.clip.num_frames / latent_frames, config.clip.frame_size / latent_height,
              config.clip.frame_size / latent_width}
    ratio = ratios.pop()
    steps = round(math.log2(ratio)) if ratio >= 1 else -1
    if ratios or steps < 1 or 2 ** steps != ratio:
        raise errors.ConfigError(
            f"clip {config.clip.num_frames}x{config.clip.frame_size}x{config.clip.frame_size} is not the latent "
            f"code {tuple(config.generator.latent_shape[:3])} doubled the same number of times on every axis")
    return steps


# 2D maps of at most this many pixels on a side get layers.SmallMapConv2D(Transpose), whose weight
# gradient is a dilated convolution: measured 1.6-3x faster there (8x8 and 4x4 maps with 256-512
# channels on 496 frames), slower on larger maps.
SMALL_MAP = 8


def _is_small(side, kernel_size):
    return side <= SMALL_MAP and kernel_size == 4


def _check_filters(name, filters, steps):
    if len(filters) != steps:
        raise errors.ConfigError(f"{name} has {len(filters)} entries; this clip and latent size need {steps}")


def middle_frame(clips):
    """The conditioning photo of a clip: frame T // 2. (B, T, H, W, 3) -> (B, H, W, 3)."""
    return clips[:, clips.shape[1] // 2]


def condition_index(which, num_frames):
    """The frame of a T-frame clip a conditional model is given: "middle" (T // 2, the poster's
    architecture), "first" (0, the poster's objective: "conditioning ... with the first frame"),
    "last", or an index ("5", or an int; negative counts from the end). ConfigError otherwise."""
    names = {"middle": num_frames // 2, "first": 0, "last": num_frames - 1}
    text = str(which).strip()
    if text in names:
        return names[text]
    try:
        index = int(text)
    except ValueError:
        raise errors.ConfigError(f"clip.condition_frame={which!r}: give middle, first, last or a frame index") from None
    if not -num_frames <= index < num_frames:
        raise errors.ConfigError(f"clip.condition_frame={which!r} is outside a clip of {num_frames} frames")
    return index % num_frames


def condition_frame(clips, which="middle"):
    """The conditioning photo of each clip, frame `condition_index(which, T)`: (B, T, H, W, 3) -> (B, H, W, 3)."""
    return clips[:, condition_index(which, clips.shape[1])]


# ----------------------------------------------------------------------------- WGAN


def conv3d_form(config):
    """How the 3D (de)convolutions are computed: "native" or "conv2d" (config.conv3d, "auto" = as
    `videocore.device` chooses for this device). ConfigError for another value."""
    return device.conv3d_form(config.get("conv3d", "auto"))[0]


def _conv3d_layers(config, pixel_side):
    """(Conv3D class, Conv3DTranspose class) for config.conv3d; `pixel_side`: for a layer with 3 (or 6) channels
    on one side, which the native form computes by space-to-depth blocks on CPU when its kernel is 4x4x4."""
    if conv3d_form(config) == "conv2d":
        return layers.Conv3DAs2D, layers.Conv3DTransposeAs2D
    if pixel_side and not device.choices().plain_conv3d:
        return layers.PixelConv3D, layers.PixelConv3DTranspose
    return keras.layers.Conv3D, keras.layers.Conv3DTranspose


def _upsample_to_clip(code, config, name):
    """(B, t, h, w, C) latent code -> (B, T, H, W, 3) clip in [-1, 1]: 3D deconvolutions with BN + ReLU."""
    gen = config.generator
    steps = upsampling_steps(config)
    _check_filters("generator.filters", gen.filters, steps - 1)
    x = code
    for index, filters in enumerate(gen.filters):
        deconv_layer = _conv3d_layers(config, pixel_side=False)[1]
        x = deconv_layer(filters, gen.kernel_size, strides=2, padding="same", use_bias=False,
                         name=f"{name}_deconv{index + 1}")(x)
        x = layers.batch_norm(gen.bn_momentum, gen.bn_epsilon, name=f"{name}_bn{index + 1}")(x)
        x = keras.layers.ReLU(name=f"{name}_relu{index + 1}")(x)
    # The RGB layer has the fast block form when its kernel is 4x4x4 (layers.PixelConv3DTranspose).
    rgb_layer = _conv3d_layers(config, pixel_side=gen.kernel_size == 4)[1]
    x = rgb_layer(3, gen.kernel_size, strides=2, padding="same", name=f"{name}_deconv{steps}")(x)
    return keras.layers.Activation("tanh", name=f"{name}_tanh")(x)


def _project_noise(noise, shape, config, name):
    """(B, Z) noise -> (B, *shape) code: one linear layer, BN, ReLU (the first of the generator's five)."""
    gen = config.generator
    x = keras.layers.Dense(math.prod(shape), use_bias=False, name=f"{name}_project")(noise)
    x = keras.layers.Reshape(tuple(shape), name=f"{name}_reshape")(x)
    x = layers.batch_norm(gen.bn_momentum, gen.bn_epsilon, name=f"{name}_project_bn")(x)
    return keras.layers.ReLU(name=f"{name}_project_relu")(x)


def video_generator(config):
    """Noise (B, Z) ~ N(0, 1) -> clip (B, T, H, W, 3) in [-1, 1].

    Z = config.generator.noise_dim; the noise is projected to the latent code
    config.generator.latent_shape (2x4x4x512 in the seed) and doubled on every axis by 4x4x4
    stride-2 transposed convolutions with batch norm and ReLU, tanh at the end.
    """
    noise = keras.Input((config.generator.noise_dim,), name="noise")
    code = _project_noise(noise, config.generator.latent_shape, config, "generator")
    return keras.Model(noise, _upsample_to_clip(code, config, "generator"), name="generator")


def critic_norm(config):
    """The critic's normalisation: "batch", "layer" or "none"; "auto" = batch under weight
    clipping (the seed's WGAN) and none under the gradient penalty (whose per-sample gradients
    batch norm would mix). Raises ConfigError for batch norm with the gradient penalty."""
    norm, penalty = config.critic.norm, config.critic.penalty
    if penalty not in ("clip", "gradient"):
        raise errors.ConfigError(f"critic.penalty={penalty!r} must be 'clip' or 'gradient'")
    if norm == "auto":
        return "batch" if penalty == "clip" else "none"
    if norm not in ("batch", "layer", "none"):
        raise errors.ConfigError(f"critic.norm={norm!r} must be auto, batch, layer or none")
    if norm == "batch" and penalty == "gradient":
        raise errors.ConfigError("critic.norm=batch cannot be used with critic.penalty=gradient "
                                 "(the penalty needs per-sample gradients); use none or layer")
    return norm


def _critic_body(x, config, name):
    """(B, T, H, W, C) -> (B, 1) score: 3D convolutions 4x4x4 stride 2 with LeakyReLU, then linear.

    layers.LeakyReLU, layers.PixelConv3D and layers.Conv3DAs2D compute the same as Keras' layers, faster
    under the gradient penalty's double backward."""
    spec = config.critic
    steps = upsampling_steps(config)
    _check_filters("critic.filters", spec.filters, steps)
    norm = critic_norm(config)
    clip = losses.WeightClip(spec.clip_value) if spec.penalty == "clip" else None
    for index, filters in enumerate(spec.filters):
        # As in DCGAN, the first layer sees the pixels unnormalised.
        normalised = norm != "none" and index > 0
        # The pixel layer has the fast block form when its kernel is 4x4x4 (layers.PixelConv3D).
        conv_layer = _conv3d_layers(config, pixel_side=index == 0 and spec.kernel_size == 4)[0]
        x = conv_layer(filters, spec.kernel_size, strides=2, padding="same", use_bias=not normalised,
                       kernel_constraint=clip, bias_constraint=clip, name=f"{name}_conv{index + 1}")(x)
        if normalised and norm == "batch":
            x = layers.batch_norm(spec.bn_momentum, spec.bn_epsilon, gamma_constraint=clip, beta_constraint=clip,
                                      name=f"{name}_bn{index + 1}")(x)
        elif normalised and norm == "layer":
            x = keras.layers.LayerNormalization(axis=(-4, -3, -2, -1), gamma_constraint=clip, beta_constraint=clip,
                                                name=f"{name}_ln{index + 1}")(x)
        x = layers.LeakyReLU(spec.leaky_slope, name=f"{name}_lrelu{index + 1}")(x)
    x = keras.layers.Flatten(name=f"{name}_flatten")(x)
    return keras.layers.Dense(1, kernel_constraint=clip, bias_constraint=clip, name=f"{name}_score")(x)


def video_critic(config):
    """Clip (B, T, H, W, 3) in [-1, 1] -> score (B, 1), unbounded (higher = more real)."""
    clip = keras.Input((config.clip.num_frames, config.clip.frame_size, config.clip.frame_size, 3), name="clip")
    return keras.Model(clip, _critic_body(clip, config, "critic"), name="critic")


# ----------------------------------------------------------------------------- conditional WGAN


def photo_encoder(config):
    """Photo (B, H, W, 3) in [-1, 1] -> latent code (B, *generator.latent_shape), after BN + ReLU.

    Strided 4x4 convolutions (encoder.filters, each with BN + LeakyReLU) bring the photo down to
    the code's spatial size, and one last 4x4 stride-1 convolution makes t * C channels that are
    unfolded into the code's t frames: five convolutions for the seed's 64x64 -> 2x4x4x512.
    """
    spec = config.encoder
    frames, height, width, channels = config.generator.latent_shape
    steps = upsampling_steps(config)
    _check_filters("encoder.filters", spec.filters, steps)
    photo = keras.Input((config.clip.frame_size, config.clip.frame_size, 3), name="photo")
    x = photo
    for index, filters in enumerate(spec.filters):
        x = keras.layers.Conv2D(filters, spec.kernel_size, strides=2, padding="same", use_bias=index == 0,
                                name=f"encoder_conv{index + 1}")(x)
        if index > 0:
            x = layers.batch_norm(config.generator.bn_momentum, config.generator.bn_epsilon,
                                      name=f"encoder_bn{index + 1}")(x)
        x = keras.layers.LeakyReLU(spec.leaky_slope, name=f"encoder_lrelu{index + 1}")(x)
    x = keras.layers.Conv2D(frames * channels, spec.kernel_size, padding="same", use_bias=False,
                            name=f"encoder_conv{len(spec.filters) + 1}")(x)
    x = keras.layers.Reshape((height, width, frames, channels), name="encoder_unfold")(x)
    x = keras.layers.Permute((3, 1, 2, 4), name="encoder_time_first")(x)  # (B, t, h, w, C)
    x = layers.batch_norm(config.generator.bn_momentum, config.generator.bn_epsilon, name="encoder_code_bn")(x)
    return keras.Model(photo, keras.layers.ReLU(name="encoder_code_relu")(x), name="encoder")


def conditional_generator(config):
    """[photo (B, H, W, 3) in [-1, 1], noise (B, Z)] -> clip (B, T, H, W, 3) in [-1, 1] around the photo.

    The encoder's code of the photo, with `encoder.noise_channels` channels of projected noise
    appended (0 = deterministic), goes through the generator's deconvolution stack.
    """
    spec = config.encoder
    photo = keras.Input((config.clip.frame_size, config.clip.frame_size, 3), name="photo")
    noise = keras.Input((config.generator.noise_dim,), name="noise")
    code = photo_encoder(config)(photo)
    if spec.noise_channels:
        noise_shape = tuple(config.generator.latent_shape[:3]) + (spec.noise_channels,)
        code = keras.layers.Concatenate(name="with_noise")([code, _project_noise(noise, noise_shape, config, "noise")])
    clip = _upsample_to_clip(code, config, "generator")
    return keras.Model([photo, noise], clip, name="conditional_generator")


def conditional_critic(config):
    """[clip (B, T, H, W, 3), photo (B, H, W, 3)] -> score (B, 1): the photo is repeated over time and
    concatenated to every frame's channels (6 channels in), then the critic's convolutions."""
    frames, size = config.clip.num_frames, config.clip.frame_size
    clip = keras.Input((frames, size, size, 3), name="clip")
    photo = keras.Input((size, size, 3), name="photo")
    repeated = keras.layers.RepeatVector(frames, name="photo_repeat")(keras.layers.Flatten()(photo))
    repeated = keras.layers.Reshape((frames, size, size, 3), name="photo_over_time")(repeated)
    joined = keras.layers.Concatenate(name="clip_and_photo")([clip, repeated])
    return keras.Model([clip, photo], _critic_body(joined, config, "critic"), name="conditional_critic")


# ----------------------------------------------------------------------------- LSTM next-frame predictor


def _frame_encoder(config):
    """Frame (N, H, W, 3) -> (N, D) vector, D = predictor.units: strided 4x4 convolutions, LeakyReLU, linear."""
    spec = config.predictor
    size = config.clip.frame_size
    model = keras.Sequential([keras.Input((size, size, 3))], name="frame_encoder")
    for index, filters in enumerate(spec.filters):
        conv = layers.SmallMapConv2D if _is_small(size // 2 ** (index + 1), spec.kernel_size) else keras.layers.Conv2D
        model.add(conv(filters, spec.kernel_size, strides=2, padding="same", name=f"conv{index + 1}"))
        model.add(keras.layers.LeakyReLU(spec.leaky_slope, name=f"lrelu{index + 1}"))
    model.add(keras.layers.Flatten(name="flatten"))
    model.add(keras.layers.Dense(spec.units, name="vector"))
    return model


def _frame_decoder(config):
    """(N, D) vector -> frame (N, H, W, 3) in [-1, 1]: linear to a small map, 4x4 stride-2 deconvolutions, tanh."""
    spec = config.predictor
    steps = len(spec.filters)
    start = config.clip.frame_size // 2 ** steps
    if start * 2 ** steps != config.clip.frame_size or start < 1:
        raise errors.ConfigError(f"predictor.filters: {steps} halvings do not divide frame size "
                                 f"{config.clip.frame_size}")
    filters = list(reversed(spec.filters))
    model = keras.Sequential([keras.Input((spec.units,))], name="frame_decoder")
    model.add(keras.layers.Dense(start * start * filters[0], name="map"))
    model.add(keras.layers.Reshape((start, start, filters[0]), name="unflatten"))
    model.add(keras.layers.ReLU(name="relu0"))
    for index, count in enumerate(filters[1:]):
        small = _is_small(start * 2 ** index, spec.kernel_size)
        deconv = layers.SmallMapConv2DTranspose if small else keras.layers.Conv2DTranspose
        model.add(deconv(count, spec.kernel_size, strides=2, padding="same", name=f"deconv{index + 1}"))
        model.add(keras.layers.ReLU(name=f"relu{index + 1}"))
    model.add(keras.layers.Conv2DTranspose(3, spec.kernel_size, strides=2, padding="same", name=f"deconv{steps}"))
    model.add(keras.layers.Activation("tanh", name="tanh"))
    return model


class FramePredictor(keras.Model):
    """LSTM next-frame prediction: frames (B, T, H, W, 3) in [-1, 1] -> predictions of frames 1..T.

    Every frame is convolved down to a `predictor.units`-d vector (1024 in the seed), an LSTM
    runs over the vectors, and each output is deconvolved to the *next* frame: output t is the
    prediction of frame t + 1 from frames 0..t (teacher forcing when trained on real frames).
    Time is folded into the batch for the convolutions (Keras' TimeDistributed loops in Python).
    The LSTM (`recurrent.LSTM`, weight gradients in one matmul each) keeps its state in float32
    and does its matmuls in the compute dtype, or in float32 with `predictor.lstm_float32`. With
    `predictor.residual` (not in the seed) the deconvolved output is added to the current frame,
    i.e. the net predicts the change.
    """

    def __init__(self, config, **kwargs):
        super().__init__(name="predictor", **kwargs)
        spec = config.predictor
        self.frame_size = config.clip.frame_size
        self.residual = bool(spec.residual)
        self.encoder = _frame_encoder(config)
        self.decoder = _frame_decoder(config)
        self.lstm = recurrent.lstm(spec.units, name="lstm", dtype="float32" if spec.lstm_float32 else None)

    def build(self, input_shape=None):
        size = self.frame_size
        self.encoder.build((None, size, size, 3))
        self.decoder.build((None, self.lstm.units))
        self.lstm.build((None, None, self.lstm.units))
        self.built = True

    def _encode(self, frames, training):
        shape = tf.shape(frames)
        size = self.frame_size
        vectors = self.encoder(tf.reshape(frames, [-1, size, size, 3]), training=training)  # (B*T, D)
        return tf.reshape(vectors, [shape[0], shape[1], self.lstm.units])

    def _decode(self, vectors, training):
        shape = tf.shape(vectors)
        size = self.frame_size
        frames = self.decoder(tf.reshape(vectors, [-1, self.lstm.units]), training=training)
        return tf.reshape(frames, [shape[0], shape[1], size, size, 3])

    def step(self, frames, state=None, training=False):
        """frames (B, t, H, W, 3) and the LSTM state (h, c) or None -> (next frames (B, t, H, W, 3), state)."""
        vectors = self._encode(frames, training)
        outputs, hidden, cell = self.lstm(vectors, initial_state=state, training=training)
        decoded = self._decode(tf.cast(outputs, self.compute_dtype), training)
        if self.residual:
            # The decoder predicts the change from the current frame: copying it is the starting point.
            decoded = tf.clip_by_value(tf.cast(frames, decoded.dtype) + decoded, -1.0, 1.0)
        return decoded, [hidden, cell]

    def call(self, frames, training=False):
        """Teacher forcing: frames (B, T, H, W, 3) -> predicted frames 1..T (B, T, H, W, 3)."""
        return self.step(frames, training=training)[0]

    def rollout(self, photo, num_frames):
        """Photo (B, H, W, 3) in [-1, 1] -> the next `num_frames` frames (B, N, H, W, 3), each
        predicted from the frames predicted before it."""
        return rollouts.roll_out(self, photo[:, None], num_frames)[1]


def frame_predictor(config):
    """A built next-frame predictor for clips of `config.clip` sizes: the seed's FramePredictor, or the
    flow-warping `motion.MotionPredictor` when predictor.kind="motion"."""
    kind = config.predictor.get("kind", "lstm")
    if kind == "motion":
        return motion.motion_predictor(config)
    if kind != "lstm":
        raise errors.ConfigError(f"predictor.kind={kind!r} must be 'lstm' or 'motion'")
    model = FramePredictor(config)
    model.build()
    return model
