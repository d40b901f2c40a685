"""Contiguous truncated-BPTT batches of latents: row b of every batch continues row b of the batch before.

The training latents of all videos are laid end to end and cut into `lanes` equal stretches (one
per batch row); batch k holds window k of every stretch: `window` consecutive frames as inputs and
the same frames shifted by one as targets. So consecutive time steps are consecutive frames, and
the LSTM state a row ends one batch with is the right state to start the next with (the fix for
the original notebook, whose time steps were not consecutive frames). Where a window crosses
from one video into the next, the steps from the crossing on are masked out and the state is
reset before the next window. Each epoch starts from zero states, moves the truncation points
by a random shift, and draws new z from each frame's mu and sigma (as World Models did).
"""

import dataclasses
from typing import Sequence, Tuple

import numpy as np
import tensorflow as tf

from videocore import errors


@dataclasses.dataclass(frozen=True)
class Layout:
    """Which frames batch (epoch, index) holds. `lengths`: frames per video, in order."""

    lengths: Tuple[int, ...]
    lanes: int
    window: int
    seed: int = 0
    shift_windows: bool = True

    def __post_init__(self):
        if self.lanes < 1 or self.window < 1:
            raise errors.ConfigError(f"lanes ({self.lanes}) and window ({self.window}) must be at least 1")
        if self.steps_per_epoch < 1:
            need = self.lanes * (self.window + 1) + self._max_shift
            raise errors.ConfigError(
                f"{self.total} frames of latents are too few for {self.lanes} lanes (loop.batch_size) of "
                f"{self.window}-frame windows (train.window): need at least {need}; lower either")

    @property
    def total(self) -> int:
        return int(sum(self.lengths))

    @property
    def _max_shift(self) -> int:
        return self.window - 1 if self.shift_windows else 0

    @property
    def lane_length(self) -> int:
        """Frames per lane, the same in every epoch whatever the shift."""
        return (self.total - self._max_shift) // self.lanes

    @property
    def steps_per_epoch(self) -> int:
        return max(0, (self.lane_length - 1) // self.window)

    def shift(self, epoch: int) -> int:
        if not self.shift_windows:
            return 0
        rng = np.random.Generator(np.random.PCG64([int(self.seed), int(epoch), 11]))
        return int(rng.integers(0, self.window))

    def video_of(self, frames):
        """Index of the video each (concatenated) frame index belongs to."""
        return np.searchsorted(np.cumsum(self.lengths), frames, side="right")

    def window_frames(self, epoch: int, index: int):
        """Frame indices (into the concatenation) of batch `index` of `epoch`.

        Returns inputs (lanes, window) int64 (targets are inputs + 1), mask (lanes, window) float32
        (1 where z_t -> z_{t+1} is a real step of the video the window started in) and reset
        (lanes,) float32 (1 where the carried state must start from zero).
        """
        if not 0 <= index < self.steps_per_epoch:
            raise IndexError(f"batch {index} of an epoch of {self.steps_per_epoch}")
        lane_starts = self.shift(epoch) + self.lane_length * np.arange(self.lanes)
        starts = lane_starts + index * self.window
        inputs = starts[:, None] + np.arange(self.window)[None, :]
        first_video = self.video_of(starts)
        mask = (self.video_of(inputs + 1) == first_video[:, None]).astype(np.float32)
        if index == 0:
            reset = np.ones(self.lanes, np.float32)
        else:
            reset = (self.video_of(starts - self.window) != first_video).astype(np.float32)
        return inputs.astype(np.int64), mask, reset


def epoch_latents(streams, epoch: int, seed: int, z_noise: float, resample: bool = True) -> np.ndarray:
    """The concatenated z of every stream for `epoch`: mu + z_noise * sigma * eps, float32 (N, D).

    eps is a pure function of (seed, epoch) (of seed alone when not `resample`), so a resumed run
    sees the very z an uninterrupted one would have.
    """
    mu = np.concatenate([s.mu for s in streams])
    if not z_noise:
        return mu.astype(np.float32)
    log_var = np.concatenate([s.log_var for s in streams])
    rng = np.random.Generator(np.random.PCG64([int(seed), int(epoch) if resample else 0, 5]))
    eps = rng.standard_normal(mu.shape, dtype=np.float32)
    return (mu + float(z_noise) * np.exp(0.5 * log_var) * eps).astype(np.float32)


def window_batches(streams: Sequence, layout: Layout, position=(0, 0), *, z_noise=0.0, resample=True):
    """tf.data.Dataset of truncated-BPTT batches from `position` = (epoch, index) on, endlessly.

    Each element is a dict: inputs, targets (lanes, window, D) float32; mask (lanes, window);
    reset (lanes,); lane (lanes,) int32 (which row of the carried state each row continues).
    """
    dim = streams[0].mu.shape[1]
    lanes, window = layout.lanes, layout.window

    def generate():
        epoch, index = (int(p) for p in position)
        while True:
            z = epoch_latents(streams, epoch, layout.seed, z_noise, resample)
            for batch in range(index, layout.steps_per_epoch):
                inputs, mask, reset = layout.window_frames(epoch, batch)
                yield {"inputs": z[inputs], "targets": z[inputs + 1], "mask": mask, "reset": reset,
                       "lane": np.arange(lanes, dtype=np.int32)}
            epoch, index = epoch + 1, 0

    signature = {
        "inputs": tf.TensorSpec((lanes, window, dim), tf.float32),
        "targets": tf.TensorSpec((lanes, window, dim), tf.float32),
        "mask": tf.TensorSpec((lanes, window), tf.float32),
        "reset": tf.TensorSpec((lanes,), tf.float32),
        "lane": tf.TensorSpec((lanes,), tf.int32),
    }
    return tf.data.Dataset.from_generator(generate, output_signature=signature).prefetch(2)
