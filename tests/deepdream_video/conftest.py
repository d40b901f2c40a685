"""Shared fixtures: the real InceptionV3 (offline ImageNet weights) and small test videos."""
import numpy as np
import pytest

from deepdream_video import models
from videocore import video


@pytest.fixture(scope="session")
def inception():
    """The Keras InceptionV3 with real weights (converted once by `make weights`)."""
    return models.inception_v3("auto")


def translating_video(path, frames=6, size=(128, 96), speed=4, fps=25):
    """Writes a textured scene moving `speed` px right per frame; returns the uint8 frames (N, H, W, 3)."""
    width, height = size
    rng = np.random.default_rng(0)
    # Smooth random texture (blurred noise, upsampled) so optical flow has something to lock on to.
    coarse = rng.uniform(0, 255, (height // 8 + 2, (width + speed * frames) // 8 + 2, 3))
    scene = np.kron(coarse, np.ones((8, 8, 1)))[:height, :width + speed * frames]
    kernel = np.ones(5) / 5
    for axis in (0, 1):
        scene = np.apply_along_axis(lambda line: np.convolve(line, kernel, mode="same"), axis, scene)
    scene = np.clip(scene, 0, 255).astype(np.uint8)
    clip = np.stack([scene[:, speed * (frames - t):speed * (frames - t) + width] for t in range(frames)])
    with video.VideoWriter(path, fps, quality=0) as writer:
        writer.write(clip)
    return clip
