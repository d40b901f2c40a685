"""Guided dreaming (issue 12 item 5): the matched-feature objective by hand, a real guided step, bad guides."""
import json
import pathlib

import numpy as np
import pytest
import skimage.data
import tensorflow as tf
from PIL import Image

from deepdream_video import configs
from deepdream_video import dream
from deepdream_video import guide as guide_lib
from deepdream_video import image
from deepdream_video import modes
from deepdream_video import plan as plan_lib
from deepdream_video import video as dream_video_lib
from deepdream_video import workdir as workdir_lib
from videocore import errors
from videocore import video


@pytest.fixture(scope="module")
def cat():
    return tf.image.resize(modes.to_float(skimage.data.chelsea()), (96, 96), antialias=True).numpy()


@pytest.fixture(scope="module")
def flowers():
    """The guide: a different picture (coffee cup), float32 in [-1, 1]."""
    return tf.image.resize(modes.to_float(skimage.data.coffee()), (64, 96), antialias=True).numpy()


def test_guided_objective_and_its_gradient_by_hand():
    # Two frame positions x1 = (1, 0), x2 = (0, 2); guide features g1 = (1, 1), g2 = (-1, 3).
    # x1.g1 = 1 > x1.g2 = -1 -> g1; x2.g1 = 2 < x2.g2 = 6 -> g2. Objective (1 + 6) / norm.
    activation = tf.constant([[[[1.0, 0.0]], [[0.0, 2.0]]]])  # (1, 2, 1, 2)
    guide = tf.constant([[1.0, 1.0], [-1.0, 3.0]])
    with tf.GradientTape() as tape:
        tape.watch(activation)
        objective = dream.guided_objective([activation], [guide], (), [4.0])
    assert float(objective) == pytest.approx(7 / 4)
    # The gradient at each position is its matched guide feature (over the norm).
    np.testing.assert_allclose(tape.gradient(objective, activation).numpy().reshape(2, 2), [[0.25, 0.25], [-0.25, 0.75]])
    # With channel 1 only (the guide already cut to it): x = 0, 2 against g = 1, 3 -> 0 * 3 + 2 * 3.
    assert float(dream.guided_objective([activation], [guide[:, 1:]], (1,), [2.0])) == pytest.approx(6 / 2)


def test_guide_size_is_fixed_and_never_below_the_layers_need():
    assert guide_lib.fitted_size(300, 600, 224, 27) == (112, 224)
    assert guide_lib.fitted_size(100, 1000, 224, 43) == (43, 430)  # the short side held at the layers' need


def test_a_guided_step_raises_the_guided_objective_and_pulls_elsewhere_than_l2(inception, cat, flowers):
    guided = dream.Dreamer(inception, ["mixed2"], objective="l2", guide=flowers)
    plain = dream.Dreamer(inception, ["mixed2"], objective="l2")
    assert [tuple(f.shape) for f in guided.guide_features] == [(5 * 9, 288)]  # the 64x96 guide at stride 8
    _, objectives = guided.dream(cat, np.zeros((1, 3, 2), np.int32), learning_rate=0.03)
    objectives = objectives.numpy()[0]
    assert np.all(np.diff(objectives) > 0), objectives
    # The guided gradient is not the l2 one: they point in clearly different directions.
    _, guided_gradient = guided.gradient(cat)
    _, plain_gradient = plain.gradient(cat)
    a, b = guided_gradient.numpy().ravel(), plain_gradient.numpy().ravel()
    assert np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)) < 0.9


def _bad_guides(tmp_path):
    not_an_image = tmp_path / "notes.jpg"
    not_an_image.write_text("not a picture")
    return [(tmp_path / "missing.jpg", "guide image not found"), (not_an_image, "the guide is not a readable image")]


def test_a_missing_or_unreadable_guide_is_one_line_before_any_work(tmp_path):
    for path, message in _bad_guides(tmp_path):
        config = configs.tiny()
        config.guide = str(path)
        output = tmp_path / "out.mp4"
        with pytest.raises(errors.UserInputError, match=f"^{path}: {message}") as raised:
            dream_video_lib.dream_video(config, video.sample_clip("carphone"), output, progress=False)
        assert "\n" not in str(raised.value)
        assert not output.exists() and not pathlib.Path(f"{output}.work").exists()
        config.mode = "zoom"
        with pytest.raises(errors.UserInputError, match=message):
            image.dream_image(config, video.sample_clip("carphone"), tmp_path / "still.png")
        assert not (tmp_path / "still.png").exists()


def test_the_guide_counts_in_the_resume_fingerprint_by_content(tmp_path, flowers):
    first, moved, other = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"
    Image.fromarray(modes.to_uint8(flowers)).save(first)
    moved.write_bytes(first.read_bytes())
    Image.fromarray(modes.to_uint8(flowers[::-1])).save(other)

    def fingerprint(path):
        config = configs.tiny()
        config.guide = str(path)
        return json.loads(workdir_lib.fingerprint(plan_lib.for_video(config, video.sample_clip("carphone"),
                                                                     tmp_path / "out.mp4")))

    assert fingerprint(first)["guide"].startswith("sha256:")
    assert fingerprint(first) == fingerprint(moved)  # same content elsewhere: the same run
    assert fingerprint(first)["guide"] != fingerprint(other)["guide"]


@pytest.mark.parametrize("mode", [pytest.param("independent", marks=pytest.mark.slow),
                                  pytest.param("blend", marks=pytest.mark.slow), "flow",
                                  pytest.param("zoom", marks=pytest.mark.slow)])  # ~5-10 s each
def test_every_mode_dreams_with_a_guide(tmp_path, flowers, mode):
    guide_path = tmp_path / "guide.png"
    Image.fromarray(modes.to_uint8(flowers)).save(guide_path)
    outputs = {}
    for guide in ("", str(guide_path)):
        config = configs.tiny()
        config.mode, config.frames, config.end, config.warping_error = mode, 2, 0.06, False
        config.guide = guide
        output = tmp_path / f"{mode}{'-guided' if guide else ''}.mp4"
        result = dream_video_lib.dream_video(config, video.sample_clip("carphone"), output, progress=False)
        assert result.frames == 2
        outputs[guide] = video.read_all(output).astype(np.float32)
    # The guide changes what is dreamed.
    assert np.abs(outputs[""] - outputs[str(guide_path)]).mean() > 1.0
