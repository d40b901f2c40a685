"""Runs of issue 12: fail fast at any size, resume fingerprints of resolved values, partial videos,
seeking resume, side by side, shards joined into one video."""
import dataclasses
import json

import numpy as np
import pytest

from deepdream_video import configs
from deepdream_video import frame_loop
from deepdream_video import plan as plan_lib
from deepdream_video import shards
from deepdream_video import video as dream_video_lib
from deepdream_video import workdir as workdir_lib
from videocore import errors
from videocore import video


def tiny(**overrides):
    config = configs.tiny()
    config.warping_error = False
    for name, value in overrides.items():
        config[name] = value
    return config


def plan(config, tmp_path, clip="bigbuckbunny"):
    return plan_lib.for_video(config, video.sample_clip(clip), tmp_path / "out.mp4")


# ------------------------------------------------------------------------------ fail fast


@pytest.mark.parametrize("size, preview, octaves, notice", [
    ("1280x720", False, 4, None),
    ("384x216", False, 4, None),  # 216 / 1.4^3 = 79 >= 75
    ("320x180", False, 3, "num_octaves=auto: 3 octaves at 320x180 (mixed10 needs the smallest octave >= 75 px; "
                          "4 would make it 117x66)"),
    ("320x180", True, 1, "num_octaves=auto: 1 octave at 160x90"),
])
def test_auto_octaves_adapt_the_default_preset_to_the_size(tmp_path, size, preview, octaves, notice):
    config = configs.default()
    config.size, config.preview = size, preview
    run = plan(config, tmp_path)
    assert run.num_octaves == octaves and run.frame_values(7)["num_octaves"] == octaves
    if notice:
        assert len(run.notices) == 1 and run.notices[0].startswith(notice)
    else:
        assert run.notices == ()


@pytest.mark.parametrize("overrides, match", [
    ({"size": "128x72"}, "a 128x72 frame is too small for dream layer mixed10, which needs at least 75 px"),
    ({"size": "320x180", "num_octaves": 4}, "num_octaves=4 at 320x180: the smallest octave is 117x66, below the "
                                            "75 px dream layer mixed10 needs"),
    ({"size": "320x180", "layer_schedule": "", "dream_layers": "mixed3", "num_octaves": 4,
      "keyframes": "10: dream_layers=mixed9"}, "num_octaves=4 from frame 10 \\(keyframes\\) at 320x180"),
    ({"size": "320x180", "layer_schedule": "", "dream_layers": "mixed3",
      "keyframes": "0: num_octaves=2; 50: num_octaves=9"}, "num_octaves=6 from frame 25 .*smallest octave is 60x34, below the 43 px dream layer mixed3"),
])
def test_sizes_that_cannot_work_stop_before_any_work(tmp_path, overrides, match):
    config = configs.default()
    for name, value in overrides.items():
        config[name] = value
    output = tmp_path / "out.mp4"
    with pytest.raises(errors.ConfigError, match=match) as caught:
        dream_video_lib.dream_video(config, video.sample_clip("bigbuckbunny"), output, progress=False)
    assert "\n" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []  # no output, no work folder


def test_explicit_dream_layers_turn_the_schedule_off_with_a_notice():
    config = configs.default()
    notices = configs.apply_overrides(config, {"dream_layers": "mixed3", "num_octaves": "3", "jitter": None})
    assert config.layer_schedule == "" and config.dream_layers == "mixed3" and config.num_octaves == 3
    assert len(notices) == 1 and "layer schedule" in notices[0] and "turned off" in notices[0]
    config = configs.default()
    assert configs.apply_overrides(config, {"dream_layers": "mixed3", "layer_schedule": "mixed5,mixed6"}) == []
    assert config.layer_schedule == "mixed5,mixed6"
    assert configs.apply_overrides(configs.flow(), {"dream_layers": "mixed4"}) == []  # no schedule to turn off


# ------------------------------------------------------------------------------ resume safety


def test_fingerprint_holds_resolved_values_and_names_the_differing_field(tmp_path):
    run = plan(tiny(end=0.1), tmp_path, "carphone")
    fields = json.loads(workdir_lib.fingerprint(run))
    assert fields["compute_dtype"] == run.network.compute_dtype and fields["frame_size"] == "96x64"
    assert fields["num_octaves"] == 2 and fields["dream_layers"] == ["mixed2"]
    assert fields["weights"].startswith("sha256:")  # the converted file's hash, not "auto"
    # Another dtype (as "auto" resolves on another machine) is named when resuming.
    workdir = workdir_lib.WorkDir(tmp_path / "work", workdir_lib.fingerprint(run))
    workdir.save_state(1, None, None, seed=0, memory_budget=2.0**30)
    other_dtype = "bfloat16" if run.network.compute_dtype == "float32" else "float32"
    run = dataclasses.replace(run, network=dataclasses.replace(run.network, compute_dtype=other_dtype))
    other = workdir_lib.WorkDir(tmp_path / "work", workdir_lib.fingerprint(run))
    with pytest.raises(errors.CheckpointError, match="compute_dtype was '.*', now '.*'") as caught:
        other.load_state()
    assert "\n" not in str(caught.value)


def test_weights_are_identified_by_content(tmp_path):
    first, copy, other = tmp_path / "a.npz", tmp_path / "b.npz", tmp_path / "c.npz"
    first.write_bytes(b"weights" * 1000)
    copy.write_bytes(b"weights" * 1000)
    other.write_bytes(b"weights" * 999 + b"WEIGHTS")
    assert workdir_lib.weights_identity(str(first)) == workdir_lib.weights_identity(str(copy))
    assert workdir_lib.weights_identity(str(first)) != workdir_lib.weights_identity(str(other))
    assert workdir_lib.weights_identity(None) == "random"


# ------------------------------------------------------------------------------ watchable progress


def test_partial_video_while_running_and_a_seeking_resume(tmp_path, monkeypatch):
    source = video.sample_clip("bigbuckbunny")  # 25 fps with audio
    config = tiny(start=1.0, end=1.4, checkpoint_every=2, preview_every=2)  # 10 frames
    output = tmp_path / "dream.mp4"
    partial = tmp_path / "dream.partial.mp4"
    original = frame_loop.FrameLoop.dream_frame

    def crash_at_frame_5(self, index, start, values):
        if index == 5:
            raise RuntimeError("simulated crash")
        return original(self, index, start, values)

    monkeypatch.setattr(frame_loop.FrameLoop, "dream_frame", crash_at_frame_5)
    with pytest.raises(RuntimeError, match="simulated"):
        dream_video_lib.dream_video(config, source, output, progress=False)
    info = video.probe(partial)  # rewritten after 2 and 4 frames
    assert info.frame_count == 4 and info.has_audio and abs(info.duration - 4 / 25) < 0.03
    assert not output.exists()

    monkeypatch.setattr(frame_loop.FrameLoop, "dream_frame", original)
    reads = []
    read_source = plan_lib.Plan.read_source
    monkeypatch.setattr(plan_lib.Plan, "read_source",
                        lambda self, from_frame=0: (reads.append(from_frame), read_source(self, from_frame))[1])
    result = dream_video_lib.dream_video(config, source, output, progress=False)
    assert reads[0] == 4  # seeks to the saved frame instead of decoding frames 0-3
    assert result.frames == 10 and video.probe(output).frame_count == 10
    assert not partial.exists()  # the whole video replaces it


# ------------------------------------------------------------------------------ side by side


def test_side_by_side_output_is_source_then_dream(tmp_path):
    source = video.sample_clip("carphone")
    config = tiny(end=0.1, side_by_side=True, keep_workdir=True, learning_rate=0.2, quality=0)
    dream_video_lib.dream_video(config, source, tmp_path / "pair.mp4", progress=False)
    pair = video.read_all(tmp_path / "pair.mp4").astype(float)
    assert pair.shape == (3, 64, 192, 3)
    raw = video.read_all(source, end=0.1, size=(96, 64)).astype(float)
    dreamed = np.asarray(workdir_lib.WorkDir(tmp_path / "pair.mp4.work", "").read_frame(2), float)
    # Left the source, right the dream; compared in luma (yuv420p halves the colour resolution,
    # which blurs the dream's fine colour detail even at CRF 0).
    luma = lambda frames: frames @ np.array([0.299, 0.587, 0.114])  # noqa: E731
    assert np.abs(luma(pair[:, :, :96]) - luma(raw)).mean() < 2
    assert np.abs(luma(pair[2, :, 96:]) - luma(dreamed)).mean() < 2
    assert np.abs(luma(dreamed) - luma(raw[2])).mean() > 8  # which differs from the source


# ------------------------------------------------------------------------------ shards


def test_two_shards_merged_match_a_single_run(tmp_path):
    source = video.sample_clip("bigbuckbunny")
    config = dict(start=1.0, end=1.48, warmup=2)  # 12 frames, flow mode
    single = dream_video_lib.dream_video(tiny(**config), source, tmp_path / "single.mp4", progress=False)
    output = tmp_path / "film.mp4"
    with pytest.raises(errors.UserInputError, match="no shards found"):
        shards.merge(output, progress=False)
    dreamed = []
    for index in (0, 1):
        result = dream_video_lib.dream_video(tiny(shard=f"{index}/2", **config), source, output, progress=False)
        dreamed.append(result.frames)
        if index == 0:
            with pytest.raises(errors.UserInputError, match="shard 1 of 2 missing") as caught:
                shards.merge(output, progress=False)
            assert "\n" not in str(caught.value)
    assert dreamed == [6, 6] and not output.exists()
    merged = shards.merge(output, progress=False)
    reference = video.probe(tmp_path / "single.mp4")
    assert merged.frame_count == single.frames == 12
    assert merged.fps == reference.fps == 25
    assert merged.has_audio and abs(merged.duration - reference.duration) < 0.03
    # A shard of other settings is refused in one line, and nothing is written.
    dream_video_lib.dream_video(tiny(shard="1/2", learning_rate=0.2, **config), source, tmp_path / "other.mp4",
                                progress=False)
    for suffix in (".mp4", ".json"):
        (tmp_path / f"other.shard-1-of-2{suffix}").replace(tmp_path / f"film.shard-1-of-2{suffix}")
    output.unlink()
    with pytest.raises(errors.UserInputError, match="settings differs from shard 0's"):
        shards.merge(output, progress=False)
    assert not output.exists()


def test_shard_ranges_and_warmup(tmp_path):
    runs = [plan(tiny(shard=f"{i}/3", warmup=4), tmp_path) for i in range(3)]  # 132 frames
    assert [(r.first_frame, r.end_frame) for r in runs] == [(0, 44), (44, 88), (88, 132)]
    assert [r.dream_from for r in runs] == [0, 40, 84]
    assert runs[1].output.name == "out.shard-1-of-3.mp4"
    # The learning rate of the first warm-up frame is a first frame's, as in a single run.
    single = plan(tiny(), tmp_path)
    assert runs[1].frame_values(40)["learning_rate"] == single.frame_values(0)["learning_rate"]
    assert runs[1].frame_values(41)["learning_rate"] == single.frame_values(41)["learning_rate"]
    assert plan(tiny(shard="1/3", mode="independent"), tmp_path).dream_from == 44
    with pytest.raises(errors.ConfigError, match="0-based"):
        plan(tiny(shard="3/3"), tmp_path)
