"""Dense optical flow (OpenCV DIS or Farneback), backward warping and forward-backward occlusion masks.

Convention used everywhere here: `flow = optical_flow(a, b)` maps each pixel of `a` to where it
is in `b`, i.e. a[y, x] ≈ b[y + flow[y, x, 1], x + flow[y, x, 0]], so `warp(b, flow)` ≈ a.
To carry frame t-1 (or anything aligned with it, e.g. a dreamed or stylised frame) forward to
frame t, use `warp(previous, optical_flow(current_input, previous_input))`.
"""
import cv2
import numpy as np

from videocore import errors

METHODS = ("dis", "farneback")
# Farneback settings commonly used for video (pyramid 0.5, 3 levels, 15 px window).
_FARNEBACK = dict(pyr_scale=0.5, levels=3, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2, flags=0)
# Forward-backward consistency (Sundaram et al. 2010, as in Ruder et al. 2016): a pixel is
# occluded if |fw + bw(x + fw)|^2 > ALPHA (|fw|^2 + |bw(x + fw)|^2) + BETA.
_CONSISTENCY_ALPHA = 0.01
_CONSISTENCY_BETA = 0.5

_dis_instances = {}


def _gray(image):
    """(H, W, 3) RGB or (H, W) uint8/float → (H, W) uint8 gray, what OpenCV's flow needs."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 3:
        return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
    if image.ndim == 2:
        return image
    raise errors.UserInputError(f"optical flow needs (H, W, 3) or (H, W) frames, got shape {image.shape}")


def optical_flow(a, b, method="dis"):
    """Dense flow from frame `a` to frame `b`.

    a, b: RGB uint8 (H, W, 3) (or gray (H, W)) of the same size.
    method: "dis" (OpenCV DIS, medium preset: fast, good on large motion) or "farneback".
    Returns float32 (H, W, 2) of (dx, dy) in pixels with a[y, x] ≈ b[y + dy, x + dx].
    """
    if method not in METHODS:
        raise errors.UserInputError(f"optical flow method {method!r}: expected one of {METHODS}")
    gray_a, gray_b = _gray(a), _gray(b)
    if gray_a.shape != gray_b.shape:
        raise errors.UserInputError(f"optical flow between frames of different sizes {gray_a.shape} and {gray_b.shape}")
    if method == "farneback":
        return cv2.calcOpticalFlowFarneback(gray_a, gray_b, None, **_FARNEBACK)
    if "dis" not in _dis_instances:
        _dis_instances["dis"] = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return _dis_instances["dis"].calc(gray_a, gray_b, None)


def _sampling_maps(flow):
    height, width = flow.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return grid_x + flow[..., 0], grid_y + flow[..., 1]


def warp(image, flow):
    """Backward warp: out[y, x] = image[y + flow[y, x, 1], x + flow[y, x, 0]] (bilinear).

    image: (H, W) or (H, W, C), uint8 or float (any C; dtype kept). flow: (H, W, 2) float.
    Samples outside the image take the nearest edge value; `occlusion_mask` marks them.
    """
    image = np.asarray(image)
    flow = np.asarray(flow, dtype=np.float32)
    if image.shape[:2] != flow.shape[:2]:
        raise errors.UserInputError(f"warp: image {image.shape[:2]} and flow {flow.shape[:2]} differ in size")
    map_x, map_y = _sampling_maps(flow)
    if image.ndim == 3 and image.shape[2] > 4:  # cv2.remap handles at most 4 channels at once
        return np.concatenate([warp(image[..., i:i + 4], flow) for i in range(0, image.shape[2], 4)], axis=2)
    source = image.astype(np.float32) if image.dtype == np.float64 else image
    warped = cv2.remap(np.ascontiguousarray(source), map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if image.ndim == 3 and warped.ndim == 2:
        warped = warped[..., None]
    return warped.astype(image.dtype, copy=False)


def occlusion_mask(flow_fw, flow_bw):
    """Pixels of frame a whose motion cannot be trusted: True = occluded / leaves the frame.

    flow_fw = optical_flow(a, b), flow_bw = optical_flow(b, a), both (H, W, 2).
    A pixel fails the forward-backward check when following fw then bw does not bring it back:
    |fw + bw(x + fw)|^2 > 0.01 (|fw|^2 + |bw(x + fw)|^2) + 0.5, or when x + fw is outside b.
    Returns bool (H, W).
    """
    flow_fw = np.asarray(flow_fw, dtype=np.float32)
    flow_bw = np.asarray(flow_bw, dtype=np.float32)
    if flow_fw.shape != flow_bw.shape:
        raise errors.UserInputError(f"occlusion_mask: flows of shapes {flow_fw.shape} and {flow_bw.shape}")
    bw_at_target = warp(flow_bw, flow_fw)
    round_trip = np.sum((flow_fw + bw_at_target) ** 2, axis=2)
    magnitude = np.sum(flow_fw ** 2, axis=2) + np.sum(bw_at_target ** 2, axis=2)
    inconsistent = round_trip > _CONSISTENCY_ALPHA * magnitude + _CONSISTENCY_BETA
    height, width = flow_fw.shape[:2]
    map_x, map_y = _sampling_maps(flow_fw)
    outside = (map_x < 0) | (map_x > width - 1) | (map_y < 0) | (map_y > height - 1)
    return inconsistent | outside
