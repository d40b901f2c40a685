"""The dream core: octave sizes, objective, jitter, tiles, gradient ascent on a real image."""
import numpy as np
import pytest
import skimage.data
import tensorflow as tf

from deepdream_video import dream
from deepdream_video import modes
from videocore import errors


@pytest.fixture(scope="module")
def cat():
    image = modes.to_float(skimage.data.chelsea())  # (300, 451, 3)
    return tf.image.resize(image, (128, 128), antialias=True).numpy()


@pytest.fixture(scope="module")
def dreamer(inception):
    return dream.Dreamer(inception, ["mixed0"], compute_dtype="float32")


def test_octave_sizes_follow_repeated_division():
    assert dream.octave_sizes(360, 540, 4, 1.4) == [(131, 197), (184, 276), (257, 386), (360, 540)]
    assert dream.octave_sizes(100, 80, 1, 2.0) == [(100, 80)]
    with pytest.raises(errors.ConfigError, match="octave_scale"):
        dream.octave_sizes(100, 100, 3, 1.0)
    with pytest.raises(errors.ConfigError, match="num_octaves"):
        dream.octave_sizes(100, 100, 0, 1.4)


def test_objective_by_hand():
    activation = tf.constant(np.arange(8, dtype=np.float32).reshape(1, 2, 2, 2))  # channel 0: 0 2 4 6
    assert float(dream.dream_objective([activation], (), "mean", [8.0])) == pytest.approx(28 / 8)
    assert float(dream.dream_objective([activation], (0,), "mean", [4.0])) == pytest.approx(12 / 4)
    assert float(dream.dream_objective([activation], (1,), "l2", [4.0])) == pytest.approx(0.5 * (1 + 9 + 25 + 49) / 4)
    # Two layers add up.
    assert float(dream.dream_objective([activation, activation], (), "mean", [8.0, 4.0])) == pytest.approx(3.5 + 7)


@pytest.mark.slow  # 12 dream steps at mixed3: ~12 s
def test_objective_rises_over_iterations_with_real_weights(inception, cat):
    dreamer = dream.Dreamer(inception, ["mixed3"], compute_dtype="float32")
    shifts = np.zeros((1, 8, 2), np.int32)
    dreamed, objectives = dreamer.dream(cat, shifts, learning_rate=0.02)
    objectives = objectives.numpy()[0]
    assert objectives.shape == (8,)
    assert np.all(np.diff(objectives) > 0), objectives
    assert objectives[-1] > 1.3 * objectives[0]
    assert dreamed.shape == cat.shape and np.abs(dreamed.numpy()).max() <= 1.0
    # With jitter and octaves too, the dream ends higher than it started.
    shifts = dream.jitter_shifts(np.random.default_rng(0), 2, 4, 16)
    _, objectives = dreamer.dream(cat, shifts, learning_rate=0.02)
    assert objectives.numpy()[-1, -1] > objectives.numpy()[-1, 0]


def test_jitter_is_undone_exactly(dreamer, cat):
    # No step: whatever the rolls and octaves, the image comes back bit for bit.
    shifts = dream.jitter_shifts(np.random.default_rng(1), 3, 2, 32)
    dreamed, _ = dreamer.dream(cat, shifts, learning_rate=0.0)
    np.testing.assert_array_equal(dreamed.numpy(), cat)
    # Rolling the input by s and the jitter by -s gives the same step rolled by s. (One step: the
    # network sees the same pixels either way, only the gradient's mean is summed in another
    # order; more steps would amplify that last-bit difference through ReLU / max-pool switches.)
    shifts = np.array([[[5, -7]]], np.int32)
    offset = np.array([9, -4], np.int32)
    reference, _ = dreamer.dream(cat, shifts, learning_rate=0.05)
    moved, _ = dreamer.dream(np.roll(cat, offset, axis=(0, 1)), shifts - offset, learning_rate=0.05)
    np.testing.assert_allclose(moved.numpy(), np.roll(reference.numpy(), offset, axis=(0, 1)), atol=1e-6)
    assert np.abs(moved.numpy() - reference.numpy()).max() > 0.1  # the check can see a shift
    # Jitter done but not undone would leave the step shifted against the image.
    unrolled, _ = dreamer.dream(cat, np.zeros_like(shifts), learning_rate=0.05)
    assert np.abs(unrolled.numpy() - reference.numpy()).mean() > 10 * np.abs(
        moved.numpy() - np.roll(reference.numpy(), offset, axis=(0, 1))).mean()


def test_step_by_step_mode_matches_one_graph_per_frame(inception, dreamer, cat):
    stepped = dream.Dreamer(inception, ["mixed0"], compute_dtype="float32", one_graph_per_frame=False)
    shifts = dream.jitter_shifts(np.random.default_rng(3), 2, 1, 8)
    whole, objectives = dreamer.dream(cat, shifts, 0.02)
    steps, step_objectives = stepped.dream(cat, shifts, 0.02)
    np.testing.assert_allclose(steps.numpy(), whole.numpy(), atol=1e-5)
    np.testing.assert_allclose(step_objectives.numpy(), objectives.numpy(), rtol=1e-5)
    assert 0 < stepped.frame_graph_bytes(2, 1) < dreamer.frame_graph_bytes(4, 5)


def test_tile_spans_cover_every_pixel_once():
    spans = dream.tile_spans(200, 192, 64)
    assert [(a, b) for a, b, _, _ in spans] == [(0, 64), (64, 128), (128, 192), (192, 200)]
    assert [(c, d) for _, _, c, d in spans] == [(0, 192), (0, 192), (8, 200), (8, 200)]
    # Late tiles start early enough to keep their width, on the alignment grid.
    spans = dream.tile_spans(300, 96, 16, align=8)
    assert [(a, b) for a, b, _, _ in spans] == [(0, 64), (64, 128), (128, 192), (192, 256), (256, 300)]
    assert all(c % 8 == 0 and d - c >= 96 - 8 for _, _, c, d in spans)
    assert all(c <= a and b <= d for a, b, c, d in spans)
    assert dream.tile_spans(150, 192, 64) == [(0, 150, 0, 150)] == dream.tile_spans(150, 0, 0)


def test_tiled_gradient_equals_untiled_where_tiles_see_the_whole_receptive_field(dreamer, cat):
    image = np.concatenate([cat, cat[:, ::-1]], axis=1)[:96]  # (96, 256, 3)
    assert dreamer.net.receptive_field("mixed0") == 63
    objective, untiled = dreamer.gradient(image)
    # One tile covering the image is the untiled gradient itself.
    _, single = dreamer.gradient(image, tile_size=256, tile_margin=0)
    np.testing.assert_array_equal(single.numpy(), untiled.numpy())
    # Margins >= the receptive field: every kept pixel's gradient is exact (4 tiles across).
    assert len(dream.tile_spans(256, 192, 64)) == 4
    tiled_objective, tiled = dreamer.gradient(image, tile_size=192, tile_margin=64)
    scale = np.abs(untiled.numpy()).max()
    np.testing.assert_allclose(tiled.numpy(), untiled.numpy(), atol=1e-4 * scale)
    # Smaller margins change the gradient near the seams.
    _, rough = dreamer.gradient(image, tile_size=96, tile_margin=16)
    assert np.abs(rough.numpy() - untiled.numpy()).max() > 1e-2 * scale
    # A dream stepped tile by tile (in Python) matches the one-graph untiled dream (one step per
    # octave, so last-bit differences are not amplified).
    shifts = dream.jitter_shifts(np.random.default_rng(2), 2, 1, 8)
    whole, _ = dreamer.dream(image, shifts, 0.02)
    tiled, _ = dreamer.dream(image, shifts, 0.02, tile_size=192, tile_margin=64)
    np.testing.assert_allclose(tiled.numpy(), whole.numpy(), atol=1e-5)


def test_bad_dream_settings(inception, dreamer, cat):
    with pytest.raises(errors.ConfigError, match="num_iterations"):
        dreamer.dream(cat, np.zeros((2, 0, 2), np.int32), 0.01)
    with pytest.raises(errors.ConfigError, match="smallest octave"):
        dreamer.dream(cat, np.zeros((6, 1, 2), np.int32), 0.01, octave_scale=2.0)
    with pytest.raises(errors.ConfigError, match="multiples of 8"):
        dreamer.gradient(cat, tile_size=100, tile_margin=8)
    with pytest.raises(errors.ConfigError, match="objective"):
        dream.Dreamer(inception, ["mixed0"], objective="max")
