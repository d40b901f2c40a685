"""Putting frames together for viewing: the source and what a method made of it, side by side."""
import cv2
import numpy as np


def side_by_side(left, right):
    """left | right in one frame, e.g. the source | its dream or reconstruction.

    Args:
      left, right: uint8 RGB frames (H, W, 3) or batches (N, H, W, 3). If the heights differ, the
        left is resized (area filter, aspect kept) to the right's height, so the result is
        judged at the processed size.
    Returns:
      uint8 (..., H, W_left + W_right, 3), the dtype of the inputs.
    """
    left, right = np.asarray(left), np.asarray(right)
    if left.ndim != right.ndim or left.ndim not in (3, 4) or left.shape[-1] != 3 or right.shape[-1] != 3:
        raise ValueError(f"side_by_side needs two RGB frames or batches, got {left.shape} and {right.shape}")
    if left.ndim == 4 and len(left) != len(right):
        raise ValueError(f"side_by_side needs batches of one length, got {len(left)} and {len(right)}")
    height = right.shape[-3]
    if left.shape[-3] != height:
        width = max(1, round(left.shape[-2] * height / left.shape[-3]))
        resize = lambda frame: cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)  # noqa: E731
        left = resize(left) if left.ndim == 3 else np.stack([resize(frame) for frame in left])
    return np.concatenate([left, right.astype(left.dtype)], axis=-2)
