"""DeepDream on one image: octaves with detail re-injection, jitter, normalised gradient ascent, tiles.

The algorithm of Mordvintsev, Olah and Tyka, "Inceptionism" (Google Research blog, 2015) and its
reference notebook: for each octave, smallest first, the image at that scale plus the dream detail
carried up from the smaller octave is pushed up the gradient of a layer objective for a few
iterations, each on a randomly rolled (jittered) copy; the detail the dream added is what moves
to the next octave, so the source's own fine detail is put back at every scale.

A whole frame - every octave and iteration - is one call of one `tf.function` traced once for
all frame sizes, so nothing returns to Python between iterations.
"""
import functools

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


def guided_objective(activations, guides, channels, norms):
    """The reference notebook's guided objective, summed over the dream layers.

    Each frame position's feature x_i (C,) is matched with the guide feature g_j of largest dot
    product x_i . g_j; the objective is the sum of those matched dot products, so its gradient at
    x_i is the matched g_j (the match itself is held fixed). Divided by `norms` as in
    `dream_objective`; each position is matched on its own, so tiles add up to the whole image.

    Args:
      activations: list of float32 (B, h, w, C) tensors, one per dream layer.
      guides: list of float32 (N_g, C') guide features per layer, C' = len(channels) or C.
      channels: tuple of channel indices (already applied to `guides`), or () for all.
      norms: list of float32 scalars, each layer's element count for the whole image.
    Returns:
      float32 scalar.
    """
    total = 0.0
    for activation, guide, norm in zip(activations, guides, norms):
        if channels:
            activation = tf.gather(activation, list(channels), axis=-1)
        features = tf.reshape(activation, [-1, activation.shape[-1]])  # (N_x, C)
        best = tf.argmax(tf.matmul(features, guide, transpose_b=True), axis=1)  # (N_x,) of A = X G^T
        matched = tf.stop_gradient(tf.gather(guide, best))  # (N_x, C)
        total += tf.reduce_sum(features * matched) / norm
    return total


def tile_spans(length, tile_size, margin, align=1):
    """How one image axis is split into tiles: [(kept_start, kept_end, tile_start, tile_end)].

    Kept spans partition [0, length); each tile reaches `margin` further on both sides (clipped to
    the image) so the gradient kept near a seam still sees context. Tiles at the ends reach further
    in (a late one starting earlier, on a multiple of `align`) so that none is much narrower than
    tile_size: the network needs a minimum input size. tile_size <= 0, or an axis no longer than
    tile_size, gives one tile.
    """
    if tile_size <= 0 or length <= tile_size:
        return [(0, length, 0, length)]
    kept = tile_size - 2 * margin
    latest_start = (length - tile_size) // align * align
    spans = []
    for start in range(0, length, kept):
        end = min(start + kept, length)
        tile_start = max(0, min(start - margin, latest_start))
        spans.append((start, end, tile_start, min(length, max(end + margin, tile_start + tile_size))))
    return spans


class Dreamer:
    """Gradient ascent on a network's activations for one image at a time.

    Args:
      model: keras.Model: InceptionV3 (see `models.inception_v3`) or, with `model_name`, a Keras
        application (`applications.network`); images are RGB in [-1, 1] either way.
      dream_layers: layer names (InceptionV3 `mixedN` or GoogLeNet aliases, see `layers.py`).
      channels: channel indices maximised in every dream layer; () for all.
      objective: "mean" or "l2"; replaced by `guided_objective` when `guide` is given.
      compute_dtype: "float32", "bfloat16" or "float16".
      one_graph_per_frame: run a whole untiled frame as one graph call with constant filters
        (fastest; holds about `frame_graph_bytes` more memory) rather than one call per step of a
        graph per octave size.
      model_name: "inception_v3" (the folded `models.DreamNet`) or a key of `applications.APPLICATIONS`.
      guide: float32 (h, w, 3) in [-1, 1], the guide image at the size its features are taken at
        (once, here), or None for the unguided objective.
    """

    def __init__(self, model, dream_layers, channels=(), objective="mean", compute_dtype="float32",
                 one_graph_per_frame=True, model_name="inception_v3", guide=None):
        if objective not in OBJECTIVES:
            raise errors.ConfigError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
        self.dream_layers = layers_lib.resolve(dream_layers, model_name)
        if model_name == "inception_v3":
            self.net = models.DreamNet(model, self.dream_layers, compute_dtype)
        else:
            from deepdream_video import applications  # deferred: only other models need it

            self.net = applications.KerasDreamNet(model, self.dream_layers, compute_dtype,
                                                  applications.preprocess(model_name))
        self.channels = layers_lib.validate_channels(
            channels, {name: self.net.channels(name) for name in self.dream_layers})
        self.objective = objective
        self.one_graph_per_frame = one_graph_per_frame
        self._min_side = None
        self.guide_features = None if guide is None else self._guide_features(guide)
        # Traced per image (tile) size: static shapes let oneDNN run the convs ~2x faster than one
        # trace for [None, None, 3] does. A video has one size, so a handful of traces.
        self._tile_function = tf.function(self._tile_graph)
        self._frame_function = tf.function(self._frame_graph)
        self._step_function = tf.function(self._step_graph)

    def check_tiling(self, tile_size, tile_margin):
        """ConfigError unless tiles line up with the network's strides (so seams can be exact)."""
        stride = self.net.stride()
        if tile_size < 0 or tile_margin < 0 or tile_size % stride or tile_margin % stride:
            raise errors.ConfigError(
                f"tile_size ({tile_size}) and tile_margin ({tile_margin}) must be non-negative multiples "
                f"of {stride}, the stride of the dream layers")
        if tile_size and tile_size <= 2 * tile_margin:
            raise errors.ConfigError(f"tile_size ({tile_size}) must exceed twice tile_margin ({tile_margin})")
        if tile_size and tile_size < self.min_side() + stride:
            raise errors.ConfigError(
                f"tile_size ({tile_size}) must be at least {self.min_side() + stride} for these dream layers")

    def min_side(self):
        """Smallest image side for which every dream layer still has an activation."""
        if self._min_side is None:
            side = 1
            while any(min(self.net.output_size(name, side, side)) < 1 for name in self.dream_layers):
                side += 1
            self._min_side = side
        return self._min_side

    def _guide_features(self, guide):
        """Per dream layer, the guide's features flattened to constant float32 (N_g, C) tensors."""
        guide = np.asarray(guide, np.float32)
        if min(guide.shape[:2]) < self.min_side():
            raise errors.ConfigError(f"the guide image ({guide.shape[1]}x{guide.shape[0]}) is smaller than the "
                                     f"{self.min_side()} px the dream layers need")
        features = []
        for activation in self.net(tf.constant(guide[None])):
            if self.channels:
                activation = tf.gather(activation, list(self.channels), axis=-1)
            features.append(tf.constant(tf.reshape(activation, [-1, activation.shape[-1]]).numpy()))
        return features

    def _norms(self, height, width):
        """Each dream layer's element count for a height x width image (the objective's divisors)."""
        norms = []
        for name in self.dream_layers:
            h, w = self.net.output_size(name, height, width)
            norms.append(float(h * w * (len(self.channels) or self.net.channels(name))))
        return norms

    def _image_gradient(self, image, norms, constants):
        """Graph of the objective and its gradient for one image (or tile) (H, W, 3)."""
        # float16 gradients of a mean over ~1e5 activations underflow; the step normalises the
        # gradient anyway, so a constant factor costs nothing (bfloat16 has float32's range).
        scale = 1024.0 if self.net.compute_dtype == tf.float16 else 1.0
        with tf.GradientTape() as tape:
            tape.watch(image)
            activations = self.net(image[None], constants)
            if self.guide_features is not None:
                objective = guided_objective(activations, self.guide_features, self.channels, norms)
            else:
                objective = dream_objective(activations, self.channels, self.objective, norms)
            scaled = objective * scale
        return objective, tape.gradient(scaled, image)

    def _tile_graph(self, tile, norms):
        return self._image_gradient(tile, tf.unstack(norms), None)

    def gradient(self, image, tile_size=0, tile_margin=0):
        """Objective and its gradient for one image, computed tile by tile.

        Each tile's gradient is taken with the tile's `tile_margin` of context and only its kept
        part is used (`tile_spans`); with margins at least the dream layers' receptive field and
        tile offsets on the network's stride grid, this is exactly the untiled gradient.

        Args:
          image: float32 (H, W, 3) in [-1, 1].
          tile_size, tile_margin: see `tile_spans`; 0 = one tile (the untiled gradient).
        Returns:
          (objective float32 scalar, gradient float32 (H, W, 3)).
        """
        self.check_tiling(tile_size, tile_margin)
        image = tf.convert_to_tensor(image, tf.float32)
        height, width = int(image.shape[0]), int(image.shape[1])
        norms = tf.constant(self._norms(height, width))
        objective, rows = 0.0, []
        stride = self.net.stride()
        for y0, y1, ty0, ty1 in tile_spans(height, tile_size, tile_margin, stride):
            row = []
            for x0, x1, tx0, tx1 in tile_spans(width, tile_size, tile_margin, stride):
                value, tile_gradient = self._tile_function(image[ty0:ty1, tx0:tx1], norms)
                row.append(tile_gradient[y0 - ty0:y1 - ty0, x0 - tx0:x1 - tx0])
                objective += value
            rows.append(tf.concat(row, axis=1))
        return objective, tf.concat(rows, axis=0)

    @staticmethod
    def _ascend(src, shift, learning_rate, gradient):
        """One normalised gradient step on a jittered copy; gradient(image) -> (objective, gradient).

        Returns (new src, objective before the step).
        """
        objective, step_gradient = gradient(tf.roll(src, shift, axis=[0, 1]))
        step_gradient = tf.roll(step_gradient, -shift, axis=[0, 1])
        # The reference notebook's normalised step: the mean |change| is learning_rate.
        step_gradient /= tf.reduce_mean(tf.abs(step_gradient)) + 1e-8
        return tf.clip_by_value(src + learning_rate * step_gradient, -1.0, 1.0), objective

    @staticmethod
    def _octaves(image, sizes, shifts, step):
        """The octaves and iterations (in a graph or eagerly); step(src, shift) -> (src, objective).

        Returns (dreamed (H, W, 3), objectives (num_octaves, num_iterations)).
        """
        detail = tf.zeros(sizes[0] + (3,))
        objectives = []
        for octave, size in enumerate(sizes):
            base = image if size == sizes[-1] else tf.image.resize(image, size, antialias=True)
            src = base + tf.image.resize(detail, size)
            for iteration in range(shifts.shape[1]):
                src, objective = step(src, shifts[octave, iteration])
                objectives.append(objective)
            detail = src - base
        dreamed = tf.clip_by_value(image + detail, -1.0, 1.0)
        return dreamed, tf.reshape(tf.stack(objectives), [len(sizes), shifts.shape[1]])

    def _graph_gradient(self, constants):
        return lambda src: self._image_gradient(src, self._norms(src.shape[0], src.shape[1]), constants)

    def _frame_graph(self, image, sizes, shifts, learning_rate):
        """A whole untiled frame as one graph, unrolled in Python (the same steps in a
        `tf.while_loop` ran ~1.6x slower under bfloat16; tracing costs seconds, once per size)."""
        gradient = self._graph_gradient(self.net.graph_constants())
        return self._octaves(image, sizes, shifts, lambda src, shift: self._ascend(src, shift, learning_rate, gradient))

    def _step_graph(self, src, shift, learning_rate):
        """One step as a graph, traced once per octave size; the weights are captured tensors,
        so oneDNN caches no filters (less memory, slower than constants)."""
        return self._ascend(src, shift, learning_rate, self._graph_gradient(None))

    def frame_graph_bytes(self, num_octaves, num_iterations):
        """Rough memory the one-graph-per-frame mode holds beyond the step mode: with the filters
        as graph constants oneDNN keeps reordered copies per node, about 26 bytes per parameter
        and step (measured for mixed5 in bfloat16 at 360x540). They make it ~1.5x faster."""
        return 26 * self.net.parameter_count() * num_octaves * num_iterations

    def dream(self, image, shifts, learning_rate, octave_scale=1.4, tile_size=0, tile_margin=0):
        """DeepDream one image.

        Args:
          image: float32 (H, W, 3) in [-1, 1].
          shifts: int32 (num_octaves, num_iterations, 2) jitter rolls (dy, dx), see `jitter_shifts`.
          learning_rate: mean absolute change per iteration (image units; the range is 2).
          octave_scale: size ratio between octaves, > 1.
          tile_size, tile_margin: gradient tiles (pixels, multiples of the net's stride); 0 = untiled.
            Tiled frames step in Python one tile at a time (slower, but only one tile's activations
            are ever in memory).
        Returns:
          (dreamed float32 (H, W, 3) in [-1, 1], objectives float32 (num_octaves, num_iterations)),
          the objective measured before each step.
        """
        shifts = np.asarray(shifts, np.int32)
        if shifts.ndim != 3 or shifts.shape[1] < 1:
            raise errors.ConfigError("num_iterations must be at least 1")
        self.check_tiling(tile_size, tile_margin)
        height, width = int(image.shape[0]), int(image.shape[1])
        sizes = tuple(octave_sizes(height, width, shifts.shape[0], octave_scale))
        if min(sizes[0]) < self.min_side():
            raise errors.ConfigError(
                f"the smallest octave ({sizes[0][0]}x{sizes[0][1]}) is below {self.min_side()} px, the least "
                f"the dream layers accept: use fewer octaves or a smaller octave_scale")
        image = tf.convert_to_tensor(image, tf.float32)
        learning_rate = tf.constant(learning_rate, tf.float32)
        if len(tile_spans(height, tile_size, tile_margin)) * len(tile_spans(width, tile_size, tile_margin)) > 1:
            gradient = functools.partial(self.gradient, tile_size=tile_size, tile_margin=tile_margin)
            return self._octaves(image, sizes, shifts, lambda src, shift: self._ascend(
                src, shift, learning_rate, gradient))
        if self.one_graph_per_frame:
            return self._frame_function(image, sizes, tf.constant(shifts), learning_rate)
        return self._octaves(image, sizes, tf.constant(shifts), lambda src, shift: self._step_function(
            src, shift, learning_rate))
