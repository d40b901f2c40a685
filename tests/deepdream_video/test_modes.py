"""How each mode builds a frame's starting image: blending and carrying the dream along the flow."""
import numpy as np

from deepdream_video import modes
from tests.deepdream_video import conftest


def test_float_round_trip():
    frame = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, axis=2)
    assert modes.to_float(frame).min() == -1.0 and modes.to_float(frame).max() == 1.0
    np.testing.assert_array_equal(modes.to_uint8(modes.to_float(frame)), frame)


def test_blend_start_weights_the_raw_frame_by_alpha():
    raw, previous = np.full((2, 2, 3), 0.5, np.float32), np.full((2, 2, 3), -0.5, np.float32)
    np.testing.assert_allclose(modes.blend_start(raw, previous, 1.0), raw)
    np.testing.assert_allclose(modes.blend_start(raw, previous, 0.75), 0.25)


def test_flow_start_moves_the_previous_residual_with_the_scene(tmp_path):
    frames = conftest.translating_video(tmp_path / "moving.mp4", frames=2, size=(160, 96), speed=5)
    previous_raw, raw = frames
    # A dream residual with structure: stripes and a bright square at a known place.
    residual = np.zeros((96, 160, 3), np.float32)
    residual[30:50, 40:60] = 0.4
    residual[:, ::16] -= 0.3
    previous_dream = modes.to_float(previous_raw) + residual
    start, occluded = modes.flow_start(raw, previous_raw, previous_dream, decay=0.5)
    carried = start - modes.to_float(raw)
    # The square arrives 5 px to the right, at half strength; nothing is left where it was.
    assert np.abs(carried[32:48, 47:63] - 0.2).mean() < 0.03
    assert np.abs(carried[32:48, 41:44]).mean() < 0.03
    expected = 0.5 * np.roll(residual, 5, axis=1)
    inner = (slice(8, -8), slice(16, -8))
    moved_error = np.abs(carried[inner] - expected[inner]).mean()
    unmoved_error = np.abs(carried[inner] - 0.5 * residual[inner]).mean()
    assert moved_error < 0.25 * unmoved_error, (moved_error, unmoved_error)
    # Pixels entering at the left edge have no past: they start from the raw frame.
    assert occluded[:, :3].mean() > 0.9
    np.testing.assert_allclose(carried[occluded], 0.0, atol=1e-6)
