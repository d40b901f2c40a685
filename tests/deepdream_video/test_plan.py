"""The plan: a run's config is validated once and its layers resolved once, into a frozen plan every part reads."""
import dataclasses

import numpy as np
import pytest
from PIL import Image

from deepdream_video import configs
from deepdream_video import image
from deepdream_video import layers as layers_lib
from deepdream_video import plan as plan_lib
from deepdream_video import video as dream_video_lib
from videocore import errors
from videocore import video


def tiny(**overrides):
    config = configs.tiny()
    config.warping_error = False
    for name, value in overrides.items():
        config[name] = value
    return config


@pytest.fixture
def counted(monkeypatch):
    """Counts `plan.validate` calls and records the layer texts `layers.resolve` is given.

    The Dreamer resolves the tuple it is handed again (its own API takes aliases too); only texts
    from a config or a keyframe are recorded, and each must be resolved exactly once per run.
    """
    calls = {"validate": 0, "resolved": []}
    validate, resolve = plan_lib.validate, layers_lib.resolve

    def counting_validate(config):
        calls["validate"] += 1
        return validate(config)

    def recording_resolve(names, model="inception_v3"):
        if isinstance(names, str):
            calls["resolved"].append(names)
        return resolve(names, model)

    monkeypatch.setattr(plan_lib, "validate", counting_validate)
    monkeypatch.setattr(layers_lib, "resolve", recording_resolve)
    return calls


def test_a_video_run_validates_once_and_resolves_each_layer_text_once(tmp_path, counted):
    # 3 frames in flow mode; the keyframe switches layers on frame 2, so frames 0-2 would each have
    # resolved their layers again had the run read the config per frame.
    config = tiny(end=0.1, keyframes="2: dream_layers=mixed3 learning_rate=0.1")
    result = dream_video_lib.dream_video(config, video.sample_clip("carphone"), tmp_path / "out.mp4", progress=False)
    assert result.frames == 3
    assert counted["validate"] == 1
    assert counted["resolved"] == ["mixed2", "mixed3"]


def test_a_picture_validates_once_and_ignores_the_layer_schedule(tmp_path, counted):
    config = tiny(layer_schedule="mixed0,mixed1", num_iterations=1)
    dreamed = image.dream_image(config, video.sample_clip("carphone"), tmp_path / "still.png")
    assert dreamed.shape == (64, 96, 3) and (tmp_path / "still.png").is_file()
    assert counted == {"validate": 1, "resolved": ["mixed2"]}
    counted.update(validate=0, resolved=[])
    config.mode, config.frames = "zoom", 2
    result = dream_video_lib.dream_video(config, video.sample_clip("carphone"), tmp_path / "zoom.mp4", progress=False)
    assert result.frames == 2
    assert counted == {"validate": 1, "resolved": ["mixed2"]}


def test_the_plan_is_frozen_and_holds_resolved_values(tmp_path):
    config = configs.default()  # the first seed's GoogLeNet layer schedule
    config.keyframes = "0: channels=3,1,3"
    config.size = "320x180"
    plan = plan_lib.for_video(config, video.sample_clip("bigbuckbunny"), tmp_path / "out.mp4")
    assert plan.layer_schedule == ("mixed5", "mixed6", "mixed7", "mixed9", "mixed10")
    assert plan.layer_sets == (("mixed5",), ("mixed6",), ("mixed7",), ("mixed9",), ("mixed10",))
    assert plan.frame_values(4)["channels"] == (3, 1) and plan.channels == ()
    assert plan.num_octaves == 3 and plan.network.model == "inception_v3"
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.num_octaves = 4


def test_keyframe_channels_are_checked_before_any_work(tmp_path):
    with pytest.raises(errors.ConfigError, match="channels must be integers, got 'x'"):
        plan_lib.for_video(tiny(keyframes="2: channels=x"), video.sample_clip("carphone"), tmp_path / "out.mp4")


def test_a_picture_plan_fits_its_octaves_to_the_picture(tmp_path):
    source = tmp_path / "small.png"
    Image.fromarray(np.full((60, 80, 3), 128, np.uint8)).save(source)
    config = tiny(size="", dream_layers="mixed3", num_octaves="auto")
    plan = plan_lib.for_picture(config, source)
    # Octaves of 60x80 at 1.4: 43x57, 31x41, 22x29; mixed3 needs 43 px, so 2 octaves.
    assert plan.picture.shape == (60, 80, 3) and plan.num_octaves == 2
    assert plan.notices == ("num_octaves=auto: 2 octaves at 80x60 (mixed3 needs the smallest octave >= 43 px; "
                            "4 would make it 29x22)",)
    config.num_octaves = 3
    with pytest.raises(errors.ConfigError, match="num_octaves=3 at 80x60: the smallest octave is 41x31"):
        plan_lib.for_picture(config, source)
