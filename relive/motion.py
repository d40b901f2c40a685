"""A next-frame predictor that moves the last frame: a small U-Net predicts a flow field and a gated correction.

Beyond the (Re)Live Photos poster (issue 13). Its LSTM squeezes a frame into one vector and draws
the next frame from it, so it must learn to redraw the whole scene and loses to copying the last
frame. Here the next frame is the last frame warped by a predicted flow (bilinear sampling;
camera and people motion is mostly translation) plus a gated residual for what warping cannot
show (things coming into view). The output convolution starts at zero, so training starts from a
known baseline instead of noise: copying the last frame, or (predictor.velocity="lucas_kanade")
the motion measured between the last two frames carried on, which alone beats copying on real
footage (docs/reproduction/relive_predictor_table.md).
"""
import keras
import tensorflow as tf

from relive import rollouts
from videocore import errors


def warp(images, flow):
    """Backward bilinear warp: out[b, y, x] = images[b, y + flow[b, y, x, 1], x + flow[b, y, x, 0]].

    images: (B, H, W, C) float; flow: (B, H, W, 2) in pixels (x, y), same dtype. Samples outside the
    frame take the nearest border pixel. A zero flow returns `images` exactly. Differentiable in both.
    """
    shape = tf.shape(images)
    batch, height, width = shape[0], shape[1], shape[2]
    rows, columns = tf.meshgrid(tf.range(height), tf.range(width), indexing="ij")
    x = tf.clip_by_value(tf.cast(columns, flow.dtype)[None] + flow[..., 0], 0.0, tf.cast(width - 1, flow.dtype))
    y = tf.clip_by_value(tf.cast(rows, flow.dtype)[None] + flow[..., 1], 0.0, tf.cast(height - 1, flow.dtype))
    x0, y0 = tf.floor(x), tf.floor(y)
    weight_x, weight_y = (x - x0)[..., None], (y - y0)[..., None]
    x0, y0 = tf.cast(x0, tf.int32), tf.cast(y0, tf.int32)
    x1, y1 = tf.minimum(x0 + 1, width - 1), tf.minimum(y0 + 1, height - 1)
    flat = tf.reshape(images, [-1, shape[3]])  # (B*H*W, C)
    base = (tf.range(batch) * height * width)[:, None, None]

    def pixels(row, column):
        return tf.gather(flat, base + row * width + column)  # (B, H, W, C)

    top = pixels(y0, x0) * (1.0 - weight_x) + pixels(y0, x1) * weight_x
    bottom = pixels(y1, x0) * (1.0 - weight_x) + pixels(y1, x1) * weight_x
    return top * (1.0 - weight_y) + bottom * weight_y


def lucas_kanade(previous, last, window=5, sigma=1.0, regularizer=1e-3):
    """The velocity that carries `previous` into `last`, per pixel: Lucas-Kanade flow on one scale.

    previous, last: (B, H, W, C) float32 in [-1, 1]; returns (B, H, W, 2) float32, pixels per frame
    (x, y), such that last(p) ~ previous(p - velocity(p)). Brightness is the mean over channels;
    the 2x2 system of every pixel sums its gradients over a Gaussian window (sigma pixels, window
    x window taps) and is regularised by `regularizer` on the diagonal, so flat regions get zero
    velocity and the solve never divides by zero. Meant for the small motions of a next frame
    (about a pixel or less); differentiable in both frames.
    """
    gray_previous, gray_last = (tf.reduce_mean(x, axis=-1, keepdims=True) for x in (previous, last))
    gray = tf.pad((gray_previous + gray_last) / 2, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="SYMMETRIC")
    gradient_x = (gray[:, 1:-1, 2:] - gray[:, 1:-1, :-2]) / 2
    gradient_y = (gray[:, 2:, 1:-1] - gray[:, :-2, 1:-1]) / 2
    change = gray_last - gray_previous
    taps = tf.exp(-tf.square(tf.range(window, dtype=tf.float32) - window // 2) / (2.0 * sigma ** 2))
    kernel = tf.tensordot(taps, taps, axes=0)
    kernel = (kernel / tf.reduce_sum(kernel))[:, :, None, None]
    half = window // 2

    def windowed(x):
        padded = tf.pad(x, [[0, 0], [half, half], [half, half], [0, 0]], mode="SYMMETRIC")
        return tf.nn.conv2d(padded, kernel, strides=1, padding="VALID")

    xx = windowed(gradient_x * gradient_x) + regularizer
    xy = windowed(gradient_x * gradient_y)
    yy = windowed(gradient_y * gradient_y) + regularizer
    bx, by = -windowed(gradient_x * change), -windowed(gradient_y * change)
    determinant = xx * yy - xy * xy  # >= regularizer * (xx + yy) > 0
    return tf.concat([(yy * bx - xy * by) / determinant, (xx * by - xy * bx) / determinant], axis=-1)


def motion_network(config):
    """(N, H, W, 3K + 3 [+ 2]) = K frames, the last change [and their Lucas-Kanade velocity] ->
    (N, H, W, 6 [+ 1]): flow (2), residual (3), gate (1) [and the velocity gain's correction].

    A U-Net: a 3x3 convolution at full size, then per entry of predictor.motion_filters after the
    first a stride-2 4x4 and a 3x3 convolution, and back up with bilinear upsampling, the skip
    from the same size and a 3x3 convolution; LeakyReLU throughout. The output convolution is
    zero-initialised (no motion, no correction).
    """
    spec = config.predictor
    size, filters = config.clip.frame_size, tuple(spec.motion_filters)
    if len(filters) < 2 or size % 2 ** (len(filters) - 1):
        raise errors.ConfigError(f"predictor.motion_filters={filters}: need at least 2 entries, and frame size "
                                 f"{size} must halve {len(filters) - 1} times")
    velocity = _uses_velocity(spec)
    frames = keras.Input((size, size, 3 * int(spec.context_frames) + 3 + 2 * velocity), name="frames_and_change")
    slope = spec.leaky_slope

    def conv(x, count, kernel, name, strides=1):
        x = keras.layers.Conv2D(count, kernel, strides=strides, padding="same", name=name)(x)
        return keras.layers.LeakyReLU(slope, name=f"{name}_lrelu")(x)

    x = conv(frames, filters[0], 3, "in")
    skips = [x]
    for index, count in enumerate(filters[1:], start=1):
        x = conv(x, count, 4, f"down{index}", strides=2)
        x = conv(x, count, 3, f"down{index}_mix")
        skips.append(x)
    for index in range(len(filters) - 2, -1, -1):
        x = keras.layers.UpSampling2D(2, interpolation="bilinear", name=f"up{index}_resize")(x)
        x = keras.layers.Concatenate(name=f"up{index}_skip")([x, skips[index]])
        x = conv(x, filters[index], 3, f"up{index}")
    out = keras.layers.Conv2D(6 + velocity, 3, padding="same", kernel_initializer="zeros",
                              name="flow_residual_gate")(x)
    return keras.Model(frames, out, name="motion_network")


def _uses_velocity(spec):
    kind = spec.get("velocity", "none")
    if kind not in ("none", "lucas_kanade"):
        raise errors.ConfigError(f"predictor.velocity={kind!r}: choose none or lucas_kanade")
    return kind == "lucas_kanade"


class MotionPredictor(keras.Model):
    """Next-frame prediction by warping: frames (B, T, H, W, 3) in [-1, 1] -> predictions of frames 1..T.

    Output t is predicted from frames t-K+1..t (K = predictor.context_frames; before frame 0 the
    first frame is repeated, i.e. no motion yet): the network sees them and the change between
    the last two, and the prediction is warp(frame t, flow) + gate * residual, clipped to [-1, 1];
    flow in pixels (predictor.flow_scale per output unit), residual = tanh, gate = sigmoid.
    With predictor.velocity="lucas_kanade" the network also sees the velocity v between the last two
    frames (`lucas_kanade`) and the flow is -(predictor.velocity_gain + a predicted correction) * v
    plus its own: before training the prediction continues the measured motion at that gain.
    Same interface as models.FramePredictor: `step` carries the last K-1 frames as its state.
    Warping and the output are float32 whatever the compute dtype.
    """

    def __init__(self, config, **kwargs):
        super().__init__(name="predictor", **kwargs)
        spec = config.predictor
        self.frame_size = config.clip.frame_size
        self.context = int(spec.context_frames)
        if self.context < 2:
            raise errors.ConfigError(f"predictor.context_frames={self.context}: the motion predictor needs 2 or more")
        self.flow_scale = float(spec.flow_scale)
        self.velocity = _uses_velocity(spec)
        self.velocity_gain = float(spec.get("velocity_gain", 0.0))
        self.network = motion_network(config)

    def build(self, input_shape=None):
        self.network.build((None, self.frame_size, self.frame_size, 3 * self.context + 3 + 2 * self.velocity))
        self.built = True

    def _next_frames(self, windows, training):
        """windows (N, K, H, W, 3) float32 -> next frames (N, H, W, 3) float32."""
        last = windows[:, -1]
        frames = tf.unstack(windows, self.context, axis=1) + [last - windows[:, -2]]
        if self.velocity:
            velocity = lucas_kanade(windows[:, -2], last)
            frames.append(velocity)
        features = tf.cast(tf.concat(frames, axis=-1), self.compute_dtype)
        out = tf.cast(self.network(features, training=training), tf.float32)
        flow, residual, gate = out[..., :2] * self.flow_scale, tf.tanh(out[..., 2:5]), tf.sigmoid(out[..., 5:6])
        if self.velocity:  # next(p) = last(p - gain * v(p)): the measured motion carried on
            flow -= (self.velocity_gain + out[..., 6:7]) * velocity
        return tf.clip_by_value(warp(last, flow) + gate * residual, -1.0, 1.0)

    def step(self, frames, state=None, training=False):
        """frames (B, t, H, W, 3) and the previous K-1 frames (or None) -> (next frames (B, t, H, W, 3), state)."""
        frames = tf.cast(frames, tf.float32)
        if state is None:
            state = tf.repeat(frames[:, :1], self.context - 1, axis=1)
        history = tf.concat([state, frames], axis=1)  # (B, K-1+t, H, W, 3)
        steps = tf.shape(frames)[1]
        # windows[:, i] = frames i..i+K-1 of the history: the K frames that end at input frame i.
        windows = tf.stack([history[:, offset:offset + steps] for offset in range(self.context)], axis=2)
        size = self.frame_size
        folded = tf.reshape(windows, [-1, self.context, size, size, 3])  # (B*t, K, H, W, 3)
        predicted = tf.reshape(self._next_frames(folded, training), tf.shape(frames))
        return predicted, history[:, -(self.context - 1):]

    def call(self, frames, training=False):
        """Teacher forcing: frames (B, T, H, W, 3) -> predicted frames 1..T (B, T, H, W, 3)."""
        return self.step(frames, training=training)[0]

    def rollout(self, photo, num_frames):
        """Photo (B, H, W, 3) in [-1, 1] -> the next `num_frames` frames (B, N, H, W, 3), each predicted
        from the frames predicted before it."""
        return rollouts.roll_out(self, photo[:, None], num_frames)[1]


def motion_predictor(config):
    """A built MotionPredictor for clips of `config.clip` sizes."""
    model = MotionPredictor(config)
    model.build()
    return model
