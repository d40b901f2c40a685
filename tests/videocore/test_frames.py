"""side_by_side: left | right, heights matched, frames and batches, bad shapes refused."""
import numpy as np
import pytest

from videocore import frames


def test_side_by_side_puts_left_then_right():
    left = np.full((4, 6, 3), 10, np.uint8)
    right = np.full((4, 5, 3), 200, np.uint8)
    pair = frames.side_by_side(left, right)
    assert pair.shape == (4, 11, 3) and pair.dtype == np.uint8
    assert (pair[:, :6] == 10).all() and (pair[:, 6:] == 200).all()
    batch = frames.side_by_side(np.stack([left, left]), np.stack([right, right]))
    assert batch.shape == (2, 4, 11, 3)


def test_side_by_side_matches_the_left_height_to_the_right():
    left = np.zeros((8, 12, 3), np.uint8)
    left[:, 6:] = 255
    pair = frames.side_by_side(left, np.zeros((4, 4, 3), np.uint8))
    assert pair.shape == (4, 10, 3)  # left resized to 4x6, aspect kept
    assert (pair[:, :3] == 0).all() and (pair[:, 3:6] == 255).all()


def test_side_by_side_refuses_mismatched_inputs():
    with pytest.raises(ValueError, match="one length"):
        frames.side_by_side(np.zeros((2, 4, 4, 3), np.uint8), np.zeros((3, 4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="RGB"):
        frames.side_by_side(np.zeros((4, 4), np.uint8), np.zeros((4, 4), np.uint8))
