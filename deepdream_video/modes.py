"""How each video mode builds the image a frame's dream starts from (pure functions of frames).

  independent: the raw frame alone (the baseline; flickers, since every frame dreams anew).
  blend (first seed): the raw frame blended with the previous *dreamed* frame.
  flow (second seed): the previous dream's residual (dream - raw) carried to the current frame
    along the optical flow, dropped where the forward-backward check fails, and decayed.
  zoom: one picture dreamed, zoomed into, dreamed again (the feedback "infinite zoom", see image.py).

Frames are float32 (H, W, 3) in [-1, 1] unless said otherwise.
"""
import numpy as np

from videocore import flow as flow_lib

MODES = ("independent", "blend", "flow", "zoom")


def to_float(frame):
    """uint8 RGB (H, W, 3) -> float32 in [-1, 1] (InceptionV3's input range)."""
    return frame.astype(np.float32) / 127.5 - 1.0


def to_uint8(image):
    """float (H, W, 3) in [-1, 1] -> uint8 RGB, rounded."""
    return np.clip(np.rint((np.asarray(image, np.float32) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def blend_start(raw, previous_dream, alpha):
    """alpha * raw + (1 - alpha) * previous_dream: alpha = 1 ignores the previous dream."""
    return alpha * raw + (1.0 - alpha) * previous_dream


def flow_start(raw, previous_raw, previous_dream, decay, method="dis"):
    """The raw frame plus the previous frame's dream residual moved along the motion.

    Flow is measured on the raw frames from the current frame to the previous one, so
    warp(previous, flow) lines the previous frame up with the current one. Where the
    forward-backward check fails (occluded, uncovered or leaving the frame) nothing is carried:
    the dream starts from the raw frame there. `decay` in [0, 1] scales the carried residual,
    so repeated dreaming cannot pile up: the carried part is a geometric sum, at most
    1 / (1 - decay) times one frame's dream.

    Args:
      raw, previous_raw: uint8 (H, W, 3) raw frames (t and t - 1).
      previous_dream: float32 (H, W, 3) in [-1, 1], the dreamed frame t - 1.
      decay: weight of the carried residual.
      method: optical flow method of `videocore.flow`.
    Returns:
      (start float32 (H, W, 3) in [-1, 1], occluded bool (H, W)).
    """
    backward = flow_lib.optical_flow(raw, previous_raw, method)  # t -> t-1
    forward = flow_lib.optical_flow(previous_raw, raw, method)  # t-1 -> t
    occluded = flow_lib.occlusion_mask(backward, forward)
    residual = flow_lib.warp(previous_dream - to_float(previous_raw), backward)
    residual[occluded] = 0.0
    start = np.clip(to_float(raw) + decay * residual, -1.0, 1.0)
    return start.astype(np.float32), occluded
