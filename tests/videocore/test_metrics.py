"""Quality metrics and flow helpers: FID, PSNR, SSIM, temporal collapse, warping error, the metrics script."""
import json
import pathlib
import subprocess
import sys

import numpy as np
import PIL.Image
import pytest
import scipy.linalg
import skimage.data
import skimage.metrics

from videocore import errors
from videocore import flow
from videocore import metrics
from videocore import video

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]


def _natural_images():
    """Five natural photos of different sizes, RGB uint8."""
    return [skimage.data.chelsea(), skimage.data.coffee(), skimage.data.astronaut(), skimage.data.rocket(),
            skimage.data.immunohistochemistry()]


def _add_noise(images, sigma, seed):
    rng = np.random.default_rng(seed)
    return [np.clip(image + rng.normal(0.0, sigma, image.shape), 0, 255).astype(np.uint8) for image in images]


def _translating_clip(num_frames=6, size=150, step=(2, 1)):
    """Crops of one photo moving by `step` (dx, dy) pixels per frame: an exact translation."""
    image = skimage.data.chelsea()
    dx, dy = step
    return np.stack([image[10 + dy * t:10 + dy * t + size, 20 + dx * t:20 + dx * t + size] for t in range(num_frames)])


# --- FID ------------------------------------------------------------------------------------


def test_frechet_distance_matches_the_closed_form_for_diagonal_covariances():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    var1, var2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 9.0])
    # |mu1 - mu2|^2 + sum (sqrt(var1) - sqrt(var2))^2 = (1 + 0 + 4) + (1 + 1 + 0)
    assert metrics.frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2)) == pytest.approx(7.0, abs=1e-9)


def test_frechet_distance_matches_scipy_sqrtm_on_full_covariances():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(40, 6)), rng.normal(size=(50, 6)) @ rng.normal(size=(6, 6))
    mu1, sigma1 = metrics.feature_statistics(a)
    mu2, sigma2 = metrics.feature_statistics(b)
    root = scipy.linalg.sqrtm(sigma1 @ sigma2).real
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(sigma1 + sigma2 - 2 * root)
    assert metrics.frechet_distance(mu1, sigma1, mu2, sigma2) == pytest.approx(expected, rel=1e-8)


@pytest.mark.parametrize("counts", [(4, 5), (5, 30), (9, 12)])
def test_frechet_distance_of_features_equals_the_covariance_formula(counts):
    rng = np.random.default_rng(1)
    a = rng.normal(size=(counts[0], 8))
    b = rng.normal(loc=0.5, size=(counts[1], 8)) @ rng.normal(size=(8, 8))
    # Built with numpy / scipy alone, not through metrics (which (9, 12) would reach by its own shortcut).
    sigma_a, sigma_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    difference = a.mean(axis=0) - b.mean(axis=0)
    expected = (difference @ difference + np.trace(sigma_a + sigma_b)
                - 2 * np.trace(scipy.linalg.sqrtm(sigma_a @ sigma_b).real))
    assert metrics.frechet_distance_of_features(a, b) == pytest.approx(expected, rel=1e-6)
    assert metrics.frechet_distance_of_features(a, a) == pytest.approx(0.0, abs=1e-9)


def test_frechet_distance_rejects_mismatched_shapes():
    with pytest.raises(errors.UserInputError, match="shapes"):
        metrics.frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))


@pytest.mark.slow  # InceptionV3 on four sets of frames: ~25 s
def test_fid_is_zero_for_the_same_frames_and_grows_with_noise():
    images = _natural_images()
    same = metrics.fid(images, images)
    scores = [metrics.fid(images, _add_noise(images, sigma, seed=sigma)) for sigma in (8, 24, 64)]
    print(f"FID same {same:.3g}, with noise sigma 8/24/64: {[round(s, 1) for s in scores]}")
    assert abs(same) < 1e-3
    assert 0 < scores[0] < scores[1] < scores[2]


def test_inception_features_shape_and_input_checks():
    frames = np.stack(_translating_clip(num_frames=3, size=80))
    features = metrics.inception_features(iter(list(frames)), batch_size=2)
    assert features.shape == (3, 2048) and features.dtype == np.float64
    assert (features >= 0).all()  # a pool of ReLU outputs
    with pytest.raises(errors.UserInputError, match="uint8"):
        metrics.inception_features(frames.astype(np.float32))


# --- PSNR / SSIM ----------------------------------------------------------------------------


def test_psnr_against_hand_computed_values():
    a = np.full((2, 8, 8, 3), 100, np.uint8)
    b = a.copy()
    b[0] += 10  # frame 0: MSE 100 → 10 log10(255^2 / 100); frame 1 identical → inf
    assert metrics.psnr(a[0], b[0]) == pytest.approx(28.130803608679106)
    assert metrics.psnr(a, a) == float("inf")
    assert metrics.psnr(a[:1], b[:1]) == pytest.approx(10 * np.log10(255 ** 2 / 100))


def test_ssim_matches_scikit_image():
    clean = skimage.data.astronaut()[100:260, 150:330]
    noisy = _add_noise([clean], 25, seed=0)[0]
    reference = skimage.metrics.structural_similarity(clean, noisy, channel_axis=2, gaussian_weights=True,
                                                      sigma=1.5, use_sample_covariance=False, data_range=255)
    # tf.image.ssim works in float32 (E[x^2] - E[x]^2 loses digits): ~1e-5 from float64 scikit-image.
    assert metrics.ssim(clean, noisy) == pytest.approx(reference, abs=5e-5)
    assert metrics.ssim(clean, clean) == pytest.approx(1.0)
    assert metrics.ssim(clean, noisy) < 0.9


def _hand_psnr(a, b):
    """The hand-written PSNR that tf.image.psnr replaced: float64 MSE, peak 255."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0 ** 2 / mse)


def _hand_ssim(a, b):
    """The hand-written SSIM that tf.image.ssim replaced: float64, cv2 Gaussian blur, borders cropped."""
    import cv2

    a, b = a.astype(np.float64), b.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(image):
        return cv2.GaussianBlur(image, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b = blur(a * a) - mu_a ** 2, blur(b * b) - mu_b ** 2
    covariance = blur(a * b) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * covariance + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return float(ssim_map[5:-5, 5:-5].mean())


def test_psnr_and_ssim_by_tf_image_equal_the_former_hand_written_ones():
    clip = _translating_clip(num_frames=5, size=48)
    noisy = np.stack(_add_noise(clip, 12, seed=3))
    # Frames of two sizes in one stream: batches split where the size changes.
    frames_a = list(clip) + [skimage.data.astronaut()[:40, :30]]
    frames_b = list(noisy) + [_add_noise([frames_a[-1]], 30, seed=4)[0]]
    expected_psnr = np.mean([_hand_psnr(a, b) for a, b in zip(frames_a, frames_b)])
    expected_ssim = np.mean([_hand_ssim(a, b) for a, b in zip(frames_a, frames_b)])
    assert metrics.psnr(frames_a, frames_b) == pytest.approx(expected_psnr, rel=1e-5)
    assert metrics.ssim(frames_a, frames_b) == pytest.approx(expected_ssim, abs=5e-5)  # float32 vs float64
    with pytest.raises(errors.UserInputError, match="smaller than the 11x11 window"):
        metrics.ssim(clip[:, :10], clip[:, :10])


def test_paired_metrics_reject_different_lengths_and_sizes():
    clip = _translating_clip(num_frames=4, size=40)
    with pytest.raises(errors.UserInputError, match="frames"):
        metrics.psnr(clip, clip[:3])
    with pytest.raises(errors.UserInputError, match="sizes differ"):
        metrics.ssim(clip, clip[:, :30, :30])


# --- temporal collapse ----------------------------------------------------------------------


def test_collapse_ratio_is_one_for_identity_and_zero_when_frozen():
    clip = _translating_clip()
    assert metrics.temporal_collapse_ratio(clip, clip) == pytest.approx(1.0)
    frozen = np.repeat(clip[:1], len(clip), axis=0)
    assert metrics.temporal_collapse_ratio(frozen, clip) == 0.0


def test_collapse_ratio_of_a_still_input_is_an_error():
    still = np.zeros((3, 16, 16, 3), np.uint8)
    with pytest.raises(errors.UserInputError, match="never change"):
        metrics.temporal_collapse_ratio(still, still)


# --- flow and warping error -----------------------------------------------------------------


@pytest.mark.parametrize("method", ["dis", "farneback"])
def test_flow_recovers_a_translation_and_warp_undoes_it(method):
    clip = _translating_clip(num_frames=2)
    backward = flow.optical_flow(clip[1], clip[0], method)  # frame 1 → frame 0: content sits at +(2, 1)
    assert backward.shape == (150, 150, 2) and backward.dtype == np.float32
    np.testing.assert_allclose(np.median(backward.reshape(-1, 2), axis=0), [2.0, 1.0], atol=0.1)
    warped = flow.warp(clip[0], backward)
    inner = (slice(10, -10), slice(10, -10))
    assert np.abs(warped[inner].astype(int) - clip[1][inner].astype(int)).mean() < 2.0


def test_occlusion_mask_flags_pixels_that_leave_the_frame():
    clip = _translating_clip(num_frames=2, step=(3, 0))
    backward = flow.optical_flow(clip[1], clip[0])
    forward = flow.optical_flow(clip[0], clip[1])
    occluded = flow.occlusion_mask(backward, forward)
    assert occluded.shape == (150, 150) and occluded.dtype == bool
    assert occluded[:, -2:].mean() > 0.9  # these pixels of frame 1 came from outside frame 0
    assert occluded[10:-10, 10:-10].mean() < 0.05


def test_warp_keeps_dtype_and_handles_many_channels():
    features = np.random.default_rng(0).random((20, 30, 7)).astype(np.float32)
    zero_flow = np.zeros((20, 30, 2), np.float32)
    np.testing.assert_array_equal(flow.warp(features, zero_flow), features)


@pytest.mark.parametrize("method", ["dis", "farneback"])
def test_warping_error_is_near_zero_for_a_translation(method):
    clip = _translating_clip()
    assert metrics.warping_error(clip, clip, flow=method) < 1e-3


def test_warping_error_is_large_for_independent_noise_frames():
    clip = _translating_clip()
    noise = np.random.default_rng(0).integers(0, 256, clip.shape, dtype=np.uint8)
    translation_error = metrics.warping_error(clip, clip)
    noise_error = metrics.warping_error(noise, clip)
    assert noise_error > 0.2  # 3 channels x E[(u - v)^2] = 0.5 for uniform noise
    assert noise_error > 100 * translation_error


# --- two videos / folders, and the script -----------------------------------------------------


@pytest.fixture(scope="module")
def clip_and_frames(tmp_path_factory):
    """A short video written with PyAV, and the same frames as a PNG folder."""
    folder = tmp_path_factory.mktemp("clip")
    frames = _translating_clip(num_frames=8, size=96)
    video_path = folder / "clip.mp4"
    with video.VideoWriter(video_path, 25) as writer:
        writer.write(frames)
    images = folder / "frames"
    images.mkdir()
    for index, frame in enumerate(frames):
        PIL.Image.fromarray(frame).save(images / f"{index:04d}.png")
    return video_path, images, frames


def test_compare_a_video_with_its_frame_folder(clip_and_frames):
    video_path, images, frames = clip_and_frames
    results = metrics.compare(video_path, images, ["psnr", "ssim", "collapse", "warp"])
    assert 30 < results["psnr"] < float("inf")  # H.264 at quality 18: close, not identical
    assert 0.9 < results["ssim"] < 1.0
    assert results["collapse"] == pytest.approx(1.0, abs=0.1)
    assert results["warp"] < 0.01
    same = metrics.compare(images, images, ["psnr", "collapse"])
    assert same == {"psnr": float("inf"), "collapse": 1.0}


def test_compare_rejects_unknown_metrics_and_missing_paths(clip_and_frames):
    video_path, images, _ = clip_and_frames
    with pytest.raises(errors.UserInputError, match="lpips"):
        metrics.compare(video_path, images, ["psnr", "lpips"])
    with pytest.raises(errors.VideoError, match="no such file"):
        metrics.compare(video_path, images.parent / "missing", ["psnr"])


@pytest.mark.slow  # a subprocess running InceptionV3: ~20 s
def test_metrics_script(clip_and_frames, tmp_path):
    video_path, images, _ = clip_and_frames
    output = tmp_path / "results.json"
    command = [sys.executable, "-m", "run_scripts.metrics", f"--a={video_path}", f"--b={images}",
               "--metrics=psnr,collapse", f"--json={output}"]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)
    assert finished.returncode == 0, finished.stderr
    assert "psnr:" in finished.stdout and "collapse:" in finished.stdout
    assert set(json.loads(output.read_text())) == {"psnr", "collapse"}
    failed = subprocess.run(command[:-2] + ["--metrics=psnr,bogus"], capture_output=True, text=True, timeout=120,
                            cwd=REPO_ROOT)
    assert failed.returncode == 1
    assert any(line.startswith("error: metrics ['bogus']") for line in failed.stderr.splitlines())
