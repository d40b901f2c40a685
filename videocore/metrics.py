"""Quality measures for generated video: FID, PSNR, SSIM, temporal collapse ratio, warping error.

Frames everywhere are RGB uint8, given as an array (N, H, W, 3) or any iterable of (H, W, 3)
arrays (e.g. `videocore.video.read_frames(path)`), so long videos stream through. Two-sequence
measures compare frame i of one with frame i of the other.
"""
import functools
import itertools
import logging
import pathlib

import cv2
import numpy as np
import PIL.Image
import tensorflow as tf
import tqdm

from videocore import errors
from videocore import flow as flow_lib
from videocore import inception
from videocore import video

log = logging.getLogger(__name__)

FID_SIZE = 299
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
# SSIM constants of Wang et al. 2004: 11x11 Gaussian window of sigma 1.5, K1 = 0.01, K2 = 0.03.
_SSIM_SIGMA = 1.5
_SSIM_WINDOW = 11
_SSIM_K1, _SSIM_K2 = 0.01, 0.03


# ---------------------------------------------------------------------------------------------
# Frame sources


def _check_frame(frame, what="frame"):
    frame = np.asarray(frame)
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise errors.UserInputError(f"{what}: expected RGB uint8 (H, W, 3), got {frame.dtype} {frame.shape}")
    return frame


def _iter_frames(frames, what="frames"):
    """Yields (H, W, 3) uint8 frames from an (N, H, W, 3) array or an iterable of frames."""
    if isinstance(frames, np.ndarray) and frames.ndim == 3:
        raise errors.UserInputError(f"{what}: got one frame {frames.shape}; pass (N, H, W, 3) or a list")
    for frame in frames:
        yield _check_frame(frame, what)


def _pairs(frames_a, frames_b):
    """Yields (frame_a, frame_b) pairs; a UserInputError if the sequences differ in length."""
    sentinel = object()
    for count, (a, b) in enumerate(itertools.zip_longest(_iter_frames(frames_a, "a"), _iter_frames(frames_b, "b"),
                                                         fillvalue=sentinel)):
        if a is sentinel or b is sentinel:
            longer, shorter = ("b", "a") if a is sentinel else ("a", "b")
            raise errors.UserInputError(f"{shorter} has {count} frames, {longer} has more; compare equal lengths")
        yield a, b


def read_images(folder):
    """Yields the images of `folder` (sorted by name) as RGB uint8 (H, W, 3)."""
    folder = pathlib.Path(folder)
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise errors.VideoError(folder, f"contains no images ({', '.join(IMAGE_SUFFIXES)})")
    for path in paths:
        try:
            with PIL.Image.open(path) as image:
                yield np.asarray(image.convert("RGB"))
        except OSError as error:
            raise errors.VideoError(path, f"unreadable image ({error})") from error


def frames_from(path, size=None):
    """Frames of a video file or a folder of images, in order, RGB uint8 (H, W, 3).

    size: (width, height) to resize to with an area filter, or None to keep.
    """
    path = pathlib.Path(path)
    if not path.exists():
        raise errors.VideoError(path, "no such file or folder")
    if path.is_file():
        return video.read_frames(path, size=size)
    images = read_images(path)
    if size is None:
        return images
    return (cv2.resize(image, tuple(size), interpolation=cv2.INTER_AREA) for image in images)


# ---------------------------------------------------------------------------------------------
# FID


@functools.lru_cache(maxsize=None)
def feature_extractor(dtype="float32", fold_batchnorm=True):
    """A tf.function uint8 (B, H, W, 3) → float32 (B, 2048) pool features of the FID network.

    dtype: "float32" or a mixed policy such as "mixed_bfloat16". fold_batchnorm: fold BN into
    the convs (same features to ~1e-6 relative, faster). Built once per argument pair.
    """
    model = inception.inception_v3("fid", fold_batchnorm=fold_batchnorm, dtype=None if dtype == "float32" else dtype)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8)])
    def extract(frames):
        images = tf.cast(frames, tf.float32)
        # The TF FID graph resizes with the TF1 bilinear kernel (no half-pixel centres) and
        # scales (x - 128) / 128; doing the same keeps scores comparable with published FIDs.
        images = tf.raw_ops.ResizeBilinear(images=images, size=[FID_SIZE, FID_SIZE],
                                           align_corners=False, half_pixel_centers=False)
        images = (images - 128.0) / 128.0
        return tf.cast(model(images, training=False), tf.float32)

    return extract


def _same_size_batches(frames, batch_size):
    """Groups consecutive frames of equal size into (B, H, W, 3) batches of at most batch_size."""
    batch = []
    for frame in _iter_frames(frames):
        if batch and (len(batch) == batch_size or frame.shape != batch[0].shape):
            yield np.stack(batch)
            batch = []
        batch.append(frame)
    if batch:
        yield np.stack(batch)


def inception_features(frames, batch_size=32, dtype="float32", progress=False):
    """2048-d pool features of the FID InceptionV3 (TF 2015 weights).

    frames: RGB uint8 (N, H, W, 3) or an iterable of (H, W, 3); each is resized to 299x299.
    dtype: "float32" (exact FID) or "mixed_bfloat16" (faster on AMX CPUs, ~1e-2 feature error).
    Returns float64 (N, 2048).
    """
    if batch_size < 1:
        raise errors.UserInputError(f"batch_size must be >= 1, got {batch_size}")
    extract = feature_extractor(dtype)
    features = []
    total = len(frames) if hasattr(frames, "__len__") else None
    with tqdm.tqdm(total=total, desc="inception features", unit="frame", disable=not progress) as bar:
        for batch in _same_size_batches(frames, batch_size):
            features.append(extract(tf.constant(batch)).numpy().astype(np.float64))
            bar.update(len(batch))
    if not features:
        raise errors.UserInputError("inception_features: no frames given")
    return np.concatenate(features)


def feature_statistics(features):
    """Mean (D,) and covariance (D, D) of features (N, D), N >= 2."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise errors.UserInputError(f"FID needs at least 2 frames per set, got features of shape {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def _symmetric_sqrt(matrix):
    """Square root of a symmetric positive semi-definite matrix by eigendecomposition."""
    eigenvalues, eigenvectors = np.linalg.eigh(matrix)
    return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """Fréchet distance between Gaussians N(mu1, sigma1) and N(mu2, sigma2) (Heusel et al. 2017).

    d^2 = |mu1 - mu2|^2 + tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2)).
    tr((sigma1 sigma2)^(1/2)) is computed as the sum of square roots of the eigenvalues of the
    symmetric PSD matrix sigma1^(1/2) sigma2 sigma1^(1/2) (same spectrum as sigma1 sigma2), so
    no non-symmetric matrix square root, complex parts or epsilon retries are needed, even
    when the covariances are singular (fewer samples than dimensions).
    mu: (D,), sigma: (D, D). Returns a float >= 0.
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    dims = mu1.shape[0]
    if mu2.shape != (dims,) or sigma1.shape != (dims, dims) or sigma2.shape != (dims, dims):
        raise errors.UserInputError(
            f"frechet_distance: shapes mu1 {mu1.shape}, sigma1 {sigma1.shape}, mu2 {mu2.shape}, sigma2 {sigma2.shape}")
    root1 = _symmetric_sqrt((sigma1 + sigma1.T) / 2)
    middle = root1 @ sigma2 @ root1
    trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0.0, None)).sum()
    difference = mu1 - mu2
    distance = difference @ difference + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt
    return float(max(distance, 0.0))


def frechet_distance_of_features(features_a, features_b):
    """Fréchet distance between the Gaussians fitted to features (N, D) and (M, D), N, M >= 2.

    Same value as `frechet_distance(*feature_statistics(a), *feature_statistics(b))`. With fewer
    samples than dimensions (the usual case for one video: N < 2048) it avoids D x D matrices:
    with centred features A, B, the non-zero eigenvalues of sigma_a sigma_b are the squared
    singular values of A B^T / sqrt((N-1)(M-1)), so tr((sigma_a sigma_b)^(1/2)) is their sum.
    """
    features_a = np.asarray(features_a, np.float64)
    features_b = np.asarray(features_b, np.float64)
    for features in (features_a, features_b):
        feature_statistics(features)  # validates shapes and counts
    count_a, dims = features_a.shape
    count_b = features_b.shape[0]
    if features_b.shape[1] != dims:
        raise errors.UserInputError(f"feature sets of {dims} and {features_b.shape[1]} dimensions")
    if min(count_a, count_b) >= dims:
        return frechet_distance(*feature_statistics(features_a), *feature_statistics(features_b))
    mean_a, mean_b = features_a.mean(axis=0), features_b.mean(axis=0)
    centred_a, centred_b = features_a - mean_a, features_b - mean_b
    singular_values = np.linalg.svd(centred_a @ centred_b.T, compute_uv=False)
    trace_sqrt = singular_values.sum() / np.sqrt((count_a - 1) * (count_b - 1))
    difference = mean_a - mean_b
    distance = (difference @ difference + np.sum(centred_a ** 2) / (count_a - 1)
                + np.sum(centred_b ** 2) / (count_b - 1) - 2.0 * trace_sqrt)
    return float(max(distance, 0.0))


def fid(frames_a, frames_b, batch_size=32, dtype="float32", progress=False):
    """Fréchet Inception Distance between two sets of frames (each RGB uint8, >= 2 frames).

    Frames are resized to 299x299 and described by the 2048-d pool features of the TF 2015
    InceptionV3. Returns a float >= 0 (0 = same feature statistics).
    """
    features_a, features_b = (inception_features(frames, batch_size, dtype, progress) for frames in (frames_a, frames_b))
    return frechet_distance_of_features(features_a, features_b)


# ---------------------------------------------------------------------------------------------
# Per-frame fidelity


def _paired_batches(a, b, name, check=None, batch_size=16):
    """Stacks frame pairs of `a` and `b` into uint8 batches ((n, H, W, 3), (n, H, W, 3)), n <= batch_size.

    A batch ends where the frame size changes (tf.image takes one size per batch); `check(frame)`
    may raise for a frame the measure cannot take. UserInputError for different sizes or no frames.
    """
    if isinstance(a, np.ndarray) and a.ndim == 3:
        a, b = a[None], np.asarray(b)[None]
    batch_a, batch_b, count = [], [], 0
    for frame_a, frame_b in _pairs(a, b):
        if frame_a.shape != frame_b.shape:
            raise errors.UserInputError(f"{name}: frame sizes differ, {frame_a.shape} vs {frame_b.shape}")
        if check is not None:
            check(frame_a)
        if batch_a and (len(batch_a) == batch_size or batch_a[0].shape != frame_a.shape):
            yield np.stack(batch_a), np.stack(batch_b)
            batch_a, batch_b = [], []
        batch_a.append(frame_a)
        batch_b.append(frame_b)
        count += 1
    if not count:
        raise errors.UserInputError(f"{name}: no frames given")
    yield np.stack(batch_a), np.stack(batch_b)


def psnr(a, b):
    """Peak signal-to-noise ratio in dB (peak 255), averaged over frames (tf.image.psnr per frame).

    a, b: RGB uint8 (H, W, 3) images, (N, H, W, 3) arrays or iterables of frames of equal sizes.
    Returns inf when every frame is identical.
    """
    values = [tf.image.psnr(batch_a, batch_b, max_val=255).numpy()
              for batch_a, batch_b in _paired_batches(a, b, "psnr")]
    return float(np.mean(np.concatenate(values)))


def _check_ssim_size(frame):
    if min(frame.shape[:2]) < _SSIM_WINDOW:
        raise errors.UserInputError(f"ssim: frames of {frame.shape[:2]} are smaller than the 11x11 window")


def ssim(a, b):
    """Structural similarity (Wang et al. 2004, Eq. 13) by tf.image.ssim: 11x11 Gaussian window σ=1.5,
    K1 = 0.01, K2 = 0.03, statistics per channel over the window positions inside the image.

    a, b: RGB uint8 (H, W, 3) images, (N, H, W, 3) arrays or iterables of frames of equal
    sizes, each side at least 11 pixels. Returns the mean over pixels, channels and frames, in
    [-1, 1] (1 = identical).
    """
    values = [tf.image.ssim(batch_a, batch_b, max_val=255, filter_size=_SSIM_WINDOW, filter_sigma=_SSIM_SIGMA,
                            k1=_SSIM_K1, k2=_SSIM_K2).numpy()
              for batch_a, batch_b in _paired_batches(a, b, "ssim", check=_check_ssim_size)]
    return float(np.mean(np.concatenate(values)))


# ---------------------------------------------------------------------------------------------
# Temporal behaviour


def _mean_abs_change(previous, current):
    return float(np.mean(np.abs(current.astype(np.float32) - previous.astype(np.float32))))


def temporal_collapse_ratio(output_frames, input_frames):
    """How much of the input's motion the output keeps: 1 = all of it, 0 = frozen.

    Mean absolute frame-to-frame change of the output divided by that of the input, over the
    same frames (the dissertation's "collapsing representations": a model that outputs nearly
    the same frame whatever the input scores near 0). Frames may differ in size between the
    two sequences (the means are per pixel). Both RGB uint8, same number of frames (>= 2).
    """
    output_change, input_change, steps = 0.0, 0.0, 0
    previous = None
    for output_frame, input_frame in _pairs(output_frames, input_frames):
        if previous is not None:
            output_change += _mean_abs_change(previous[0], output_frame)
            input_change += _mean_abs_change(previous[1], input_frame)
            steps += 1
        previous = (output_frame, input_frame)
    if steps == 0:
        raise errors.UserInputError("temporal_collapse_ratio needs at least 2 frames")
    if input_change == 0:
        raise errors.UserInputError("temporal_collapse_ratio: the input frames never change (still video)")
    return output_change / input_change


def warping_error(output_frames, input_frames, flow="dis"):
    """Temporal warping error of a processed video (Lai et al. 2018, "Learning Blind Video Temporal Consistency").

    For each t >= 1, flow is computed on the *input* frames from t to t-1, output frame t-1 is
    warped to t with it, and E_t = sum_i M_i |O_t(i) - warp(O_{t-1})(i)|^2 / sum_i M_i, with
    pixels in [0, 1], |.|^2 summed over RGB, and M = 0 where the forward-backward check fails
    (occlusions, motion leaving the frame). Returns the mean of E_t over t (0 = perfectly
    consistent; independent uniform noise gives ~0.5).

    output_frames, input_frames: RGB uint8, same number of frames (>= 2). Input frames are
    resized to the output's size if they differ. flow: "dis" or "farneback".
    """
    errors_per_step = []
    previous = None
    for output_frame, input_frame in _pairs(output_frames, input_frames):
        if input_frame.shape != output_frame.shape:
            height, width = output_frame.shape[:2]
            input_frame = cv2.resize(input_frame, (width, height), interpolation=cv2.INTER_AREA)
        if previous is not None:
            previous_output, previous_input = previous
            flow_back = flow_lib.optical_flow(input_frame, previous_input, flow)  # t → t-1
            flow_forward = flow_lib.optical_flow(previous_input, input_frame, flow)  # t-1 → t
            valid = ~flow_lib.occlusion_mask(flow_back, flow_forward)
            warped = flow_lib.warp(previous_output.astype(np.float32) / 255.0, flow_back)
            squared = np.sum((output_frame.astype(np.float32) / 255.0 - warped) ** 2, axis=2)
            errors_per_step.append(float(squared[valid].sum() / max(valid.sum(), 1)))
        previous = (output_frame, input_frame)
    if not errors_per_step:
        raise errors.UserInputError("warping_error needs at least 2 frames")
    return float(np.mean(errors_per_step))


# ---------------------------------------------------------------------------------------------
# Two videos (or frame folders) at once


METRICS = ("fid", "psnr", "ssim", "collapse", "warp")


def compare(output_path, input_path, names=METRICS, *, size=None, max_frames=None, flow="dis", progress=False):
    """Measures `output_path` against `input_path` (videos or folders of images).

    names: any of METRICS. "collapse" and "warp" treat the first as the processed output and the
    second as the input it was made from; "psnr"/"ssim" need equal frame sizes (use `size`).
    size: (width, height) both are resized to, or None. max_frames: use only the first frames.
    Both sequences are decoded once into memory. Returns {name: value}.
    """
    unknown = [name for name in names if name not in METRICS]
    if unknown or not names:
        raise errors.UserInputError(f"metrics {unknown or names}: choose from {', '.join(METRICS)}")
    sequences = [list(itertools.islice(frames_from(path, size), max_frames)) for path in (output_path, input_path)]
    output_frames, input_frames = sequences
    # Paired measures use the common length (re-encoding can add or drop a frame at the end).
    count = min(len(output_frames), len(input_frames))
    if len(output_frames) != len(input_frames) and set(names) - {"fid"}:
        log.warning("%s has %d frames, %s has %d: paired metrics use the first %d",
                    output_path, len(output_frames), input_path, len(input_frames), count)
    paired_output, paired_input = output_frames[:count], input_frames[:count]
    measures = {
        "fid": lambda: fid(output_frames, input_frames, progress=progress),
        "psnr": lambda: psnr(paired_output, paired_input),
        "ssim": lambda: ssim(paired_output, paired_input),
        "collapse": lambda: temporal_collapse_ratio(paired_output, paired_input),
        "warp": lambda: warping_error(paired_output, paired_input, flow=flow),
    }
    return {name: measures[name]() for name in names}
