"""Blend, layer and keyframe schedules give the sequences their docstrings document."""
import numpy as np
import pytest

from deepdream_video import schedules
from videocore import errors


def test_loop_blend_goes_from_half_to_one_and_back():
    values = [schedules.blend_value("loop", i) for i in range(13)]
    expected = [0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.6, 0.7]
    np.testing.assert_allclose(values, expected, atol=1e-12)


def test_constant_and_random_blend():
    assert {schedules.blend_value("constant", i, value=0.7) for i in range(5)} == {0.7}
    values = [schedules.blend_value("random", i, low=0.5, high=1.0, seed=3) for i in range(200)]
    assert min(values) >= 0.5 and max(values) <= 1.0 and np.std(values) > 0.1
    # A function of (seed, frame): the same on a resumed run, different for another seed.
    assert values[17] == schedules.blend_value("random", 17, low=0.5, high=1.0, seed=3)
    assert values[17] != schedules.blend_value("random", 17, low=0.5, high=1.0, seed=4)
    with pytest.raises(errors.ConfigError):
        schedules.blend_value("sometimes", 0)


def test_layer_schedule_moves_up_then_back_down():
    assert [schedules.layer_index(5, i) for i in range(11)] == [0, 1, 2, 3, 4, 3, 2, 1, 0, 1, 2]
    assert [schedules.layer_index(3, i, every=2) for i in range(10)] == [0, 0, 1, 1, 2, 2, 1, 1, 0, 0]
    assert {schedules.layer_index(1, i) for i in range(4)} == {0}


def test_keyframes_interpolate_numbers_and_step_layers():
    keyframes = schedules.parse_keyframes(
        "10: learning_rate=0.03 dream_layers=mixed5; 1s: num_iterations=9; 0: jitter=0", fps=20)
    assert [k.frame for k in keyframes] == [0, 10, 20]
    base = {"learning_rate": 0.01, "num_iterations": 5, "jitter": 32, "dream_layers": "mixed3"}
    at = lambda frame: schedules.values_at(keyframes, frame, base)  # noqa: E731
    assert at(0) == {"learning_rate": 0.01, "num_iterations": 5, "jitter": 0, "dream_layers": "mixed3"}
    assert at(5)["learning_rate"] == pytest.approx(0.02)
    assert at(5)["dream_layers"] == "mixed3" and at(10)["dream_layers"] == "mixed5"
    assert at(15)["num_iterations"] == 8 and isinstance(at(15)["num_iterations"], int)  # 5 + (9 - 5) * 15 / 20
    assert at(100) == {"learning_rate": 0.03, "num_iterations": 9, "jitter": 0, "dream_layers": "mixed5"}
    assert base["learning_rate"] == 0.01  # not modified


@pytest.mark.parametrize("spec", ["x: learning_rate=1", "5: speed=2", "5: learning_rate=fast", "5:"])
def test_bad_keyframes(spec):
    with pytest.raises(errors.ConfigError):
        schedules.parse_keyframes(spec, fps=25)
