"""DeepDream on one image: octaves with detail re-injection, jitter, normalised gradient ascent, tiles.

The algorithm of Mordvintsev, Olah and Tyka, "Inceptionism" (Google Research blog, 2015) and its
reference notebook: for each octave, smallest first, the image at that scale plus the dream detail
carried up from the smaller octave is pushed up the gradient of a layer objective for a few
iterations, each on a randomly rolled (jittered) copy; the detail the dream added is what moves
to the next octave, so the source's own fine detail is put back at every scale.

A whole frame - every octave and iteration - is one call of one `tf.function` traced once for
all frame sizes, so nothing returns to Python between iterations.
"""
import math

import numpy as np
import tensorflow as tf

from deepdream_video import layers as layers_lib
from deepdream_video import models
from videocore import errors

OBJECTIVES = ("mean", "l2")


def octave_sizes(height, width, num_octaves, octave_scale):
    """Image sizes of the octaves, smallest first, the last being (height, width).

    Each octave is the next larger one divided by `octave_scale`, rounded, as in the reference
    notebook's repeated zoom: 360x540 with 4 octaves at 1.4 -> 131x197, 184x276, 257x386, 360x540.
    Returns a list of (h, w) int pairs.
    """
    if num_octaves < 1:
        raise errors.ConfigError(f"num_octaves must be at least 1, got {num_octaves}")
    if not octave_scale > 1:
        raise errors.ConfigError(f"octave_scale must be greater than 1, got {octave_scale}")
    sizes = [(int(height), int(width))]
    for _ in range(num_octaves - 1):
        h, w = sizes[-1]
        sizes.append((max(1, round(h / octave_scale)), max(1, round(w / octave_scale))))
    return sizes[::-1]


def jitter_shifts(rng, num_octaves, num_iterations, jitter):
    """Random roll offsets (dy, dx), uniform in [-jitter, jitter] (pixels).

    Args:
      rng: numpy Generator; its state is part of a run's resumable state.
    Returns:
      int32 array (num_octaves, num_iterations, 2).
    """
    return rng.integers(-jitter, jitter + 1, size=(num_octaves, num_iterations, 2)).astype(np.int32)


def dream_objective(activations, channels, kind, norms):
    """The quantity gradient ascent maximises, summed over the dream layers.

    "mean": mean activation (the TensorFlow DeepDream tutorial's loss); "l2": half the mean
    squared activation (the reference notebook's `objective_L2`, whose gradient is the activation).
    Each layer's sum is divided by its element count over the *whole* image (`norms`), so that
    per-tile objectives add up to the whole image's and layers weigh the same tiled or not.

    Args:
      activations: list of float32 (B, h, w, C) tensors, one per dream layer.
      channels: tuple of channel indices to use in every layer, or () for all.
      kind: "mean" or "l2".
      norms: list of float32 scalars, each layer's element count for the whole image.
    Returns:
      float32 scalar.
    """
    total = 0.0
    for activation, norm in zip(activations, norms):
        if channels:
            activation = tf.gather(activation, list(channels), axis=-1)
        if kind == "l2":
            activation = 0.5 * tf.square(activation)
        total += tf.reduce_sum(activation) / norm
    return total


def tile_spans(length, tile_size, margin):
    """How one image axis is split into tiles: [(kept_start, kept_end, tile_start, tile_end)].

    Kept spans partition [0, length); each tile reaches `margin` further on both sides (clipped to
    the image) so the gradient kept near a seam still sees context. tile_size <= 0, or an axis no
    longer than tile_size, gives one tile. Python-int mirror of the in-graph tiling, for tests and
    estimates.
    """
    if tile_size <= 0 or length <= tile_size:
        return [(0, length, 0, length)]
    kept = tile_size - 2 * margin
    spans = []
    for start in range(0, length, kept):
        end = min(start + kept, length)
        spans.append((start, end, max(0, start - margin), min(length, end + margin)))
    return spans


class Dreamer:
    """Gradient ascent on InceptionV3 activations for one image at a time.

    Args:
      model: keras.Model InceptionV3 (see `models.inception_v3`), input RGB in [-1, 1].
      dream_layers: layer names (InceptionV3 `mixedN` or GoogLeNet aliases, see `layers.py`).
      channels: channel indices maximised in every dream layer; () for all.
      objective: "mean" or "l2".
      compute_dtype: "float32" or "bfloat16".
    """

    def __init__(self, model, dream_layers, channels=(), objective="mean", compute_dtype="float32"):
        if objective not in OBJECTIVES:
            raise errors.ConfigError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
        self.dream_layers = layers_lib.resolve(dream_layers)
        self.net = models.DreamNet(model, self.dream_layers, compute_dtype)
        self.channels = layers_lib.validate_channels(
            channels, {name: self.net.channels(name) for name in self.dream_layers})
        self.objective = objective
        image = tf.TensorSpec([None, None, 3], tf.float32)
        scalar_int = tf.TensorSpec([], tf.int32)
        self.gradient = tf.function(self._gradient, input_signature=[image, scalar_int, scalar_int])
        self._dream = tf.function(self._dream_graph, input_signature=[
            image, tf.TensorSpec([None, 2], tf.int32), tf.TensorSpec([None, None, 2], tf.int32),
            tf.TensorSpec([], tf.float32), scalar_int, scalar_int])

    def check_tiling(self, tile_size, tile_margin):
        """ConfigError unless tiles line up with the network's strides (so seams can be exact)."""
        stride = self.net.stride()
        if tile_size < 0 or tile_margin < 0 or tile_size % stride or tile_margin % stride:
            raise errors.ConfigError(
                f"tile_size ({tile_size}) and tile_margin ({tile_margin}) must be non-negative multiples "
                f"of {stride}, the stride of layer {self.dream_layers[-1]}")
        if tile_size and tile_size <= 2 * tile_margin:
            raise errors.ConfigError(f"tile_size ({tile_size}) must exceed twice tile_margin ({tile_margin})")

    def _norms(self, height, width):
        norms = []
        for name in self.dream_layers:
            h, w = self.net.output_size(name, height, width)
            depth = len(self.channels) or self.net.channels(name)
            norms.append(tf.cast(h * w * depth, tf.float32))
        return norms

    def _gradient(self, image, tile_size, tile_margin):
        """Objective and its gradient for image (H, W, 3) in [-1, 1], tile by tile.

        Returns (objective scalar, gradient (H, W, 3)), both float32. With tile_size <= 0 or an
        image no larger than a tile, one tile covers everything (the untiled gradient).
        """
        shape = tf.shape(image)
        height, width = shape[0], shape[1]
        norms = self._norms(height, width)

        def kept_length(length):
            single = tf.logical_or(tile_size <= 0, length <= tile_size)
            return tf.where(single, length, tile_size - 2 * tile_margin)

        kept_y, kept_x = kept_length(height), kept_length(width)
        tiles_y, tiles_x = -(-height // kept_y), -(-width // kept_x)

        def body(index, objective, gradient):
            y0 = (index // tiles_x) * kept_y
            x0 = (index % tiles_x) * kept_x
            y1, x1 = tf.minimum(y0 + kept_y, height), tf.minimum(x0 + kept_x, width)
            ty0, tx0 = tf.maximum(0, y0 - tile_margin), tf.maximum(0, x0 - tile_margin)
            ty1, tx1 = tf.minimum(height, y1 + tile_margin), tf.minimum(width, x1 + tile_margin)
            tile = image[ty0:ty1, tx0:tx1]
            with tf.GradientTape() as tape:
                tape.watch(tile)
                value = dream_objective(self.net(tile[None]), self.channels, self.objective, norms)
            tile_gradient = tape.gradient(value, tile)[y0 - ty0:y1 - ty0, x0 - tx0:x1 - tx0]
            gradient += tf.pad(tile_gradient, [[y0, height - y1], [x0, width - x1], [0, 0]])
            return index + 1, objective + value, gradient

        _, objective, gradient = tf.while_loop(
            lambda index, *_: index < tiles_y * tiles_x, body,
            (tf.constant(0), tf.constant(0.0), tf.zeros_like(image)), parallel_iterations=1)
        return objective, gradient

    def _dream_graph(self, image, sizes, shifts, learning_rate, tile_size, tile_margin):
        """All octaves and iterations for one image; see `dream` for the arguments."""
        full_size = tf.shape(image)[:2]
        num_iterations = tf.shape(shifts)[1]
        any_shape = tf.TensorShape([None, None, 3])

        def ascend(octave, step, src, objectives):
            shift = shifts[octave, step]
            rolled = tf.roll(src, shift, axis=[0, 1])
            objective, gradient = self._gradient(rolled, tile_size, tile_margin)
            gradient = tf.roll(gradient, -shift, axis=[0, 1])
            # Normalised step (the reference notebook's): the mean |step| is learning_rate.
            gradient /= tf.reduce_mean(tf.abs(gradient)) + 1e-8
            src = tf.clip_by_value(src + learning_rate * gradient, -1.0, 1.0)
            return step + 1, src, objectives.write(octave * num_iterations + step, objective)

        def octave_body(octave, detail, objectives):
            size = sizes[octave]
            at_full_size = tf.reduce_all(tf.equal(size, full_size))
            base = tf.cond(at_full_size, lambda: image,
                           lambda: tf.image.resize(image, size, antialias=True))
            src = base + tf.image.resize(detail, size)
            _, src, objectives = tf.while_loop(
                lambda step, *_: step < num_iterations, lambda step, src, objectives: ascend(
                    octave, step, src, objectives),
                (tf.constant(0), src, objectives), shape_invariants=(
                    tf.TensorShape([]), any_shape, tf.TensorShape(None)), parallel_iterations=1)
            return octave + 1, src - base, objectives

        num_octaves = tf.shape(sizes)[0]
        objectives = tf.TensorArray(tf.float32, size=num_octaves * num_iterations)
        detail = tf.zeros(tf.concat([sizes[0], [3]], 0))
        _, detail, objectives = tf.while_loop(
            lambda octave, *_: octave < num_octaves, octave_body, (tf.constant(0), detail, objectives),
            shape_invariants=(tf.TensorShape([]), any_shape, tf.TensorShape(None)), parallel_iterations=1)
        dreamed = tf.clip_by_value(image + detail, -1.0, 1.0)
        return dreamed, tf.reshape(objectives.stack(), [num_octaves, num_iterations])

    def dream(self, image, shifts, learning_rate, octave_scale=1.4, tile_size=0, tile_margin=0):
        """DeepDream one image.

        Args:
          image: float32 (H, W, 3) in [-1, 1].
          shifts: int32 (num_octaves, num_iterations, 2) jitter rolls (dy, dx), see `jitter_shifts`.
          learning_rate: mean absolute change per iteration (image units, range 2).
          octave_scale: size ratio between octaves, > 1.
          tile_size, tile_margin: gradient tiles (pixels, multiples of the net's stride); 0 = untiled.
        Returns:
          (dreamed float32 (H, W, 3) in [-1, 1], objectives float32 (num_octaves, num_iterations)),
          the objective measured before each step.
        """
        shifts = np.asarray(shifts, np.int32)
        if shifts.ndim != 3 or shifts.shape[1] < 1:
            raise errors.ConfigError("num_iterations must be at least 1")
        self.check_tiling(tile_size, tile_margin)
        height, width = int(image.shape[0]), int(image.shape[1])
        sizes = octave_sizes(height, width, shifts.shape[0], octave_scale)
        if min(sizes[0]) < self.min_side():
            raise errors.ConfigError(
                f"the smallest octave ({sizes[0][0]}x{sizes[0][1]}) is below {self.min_side()} px, the least "
                f"the dream layers accept: use fewer octaves or a smaller octave_scale")
        dreamed, objectives = self._dream(
            tf.convert_to_tensor(image, tf.float32), np.asarray(sizes, np.int32), shifts,
            tf.constant(learning_rate, tf.float32), tf.constant(tile_size), tf.constant(tile_margin))
        return dreamed, objectives

    def min_side(self):
        """Smallest image side for which every dream layer still has an activation."""
        side = 1
        while any(min(self.net.output_size(name, side, side)) < 1 for name in self.dream_layers):
            side += 1
        return side
