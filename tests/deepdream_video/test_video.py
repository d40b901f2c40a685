"""Whole videos: frame rate and audio kept, resume equals an uninterrupted run, flow carries the dream,
bad input named in one line."""
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from deepdream_video import configs
from deepdream_video import dreamers
from deepdream_video import frame_loop
from deepdream_video import plan as plan_lib
from deepdream_video import video as dream_video_lib
from deepdream_video import workdir as workdir_lib
from tests.deepdream_video import conftest
from videocore import errors
from videocore import video


def tiny(**overrides):
    config = configs.tiny()
    config.warping_error = False
    for name, value in overrides.items():
        config[name] = value
    return config


def test_fps_and_audio_are_kept(tmp_path):
    source = video.sample_clip("bigbuckbunny")  # 25 fps, AAC audio
    output = tmp_path / "dream.mp4"
    result = dream_video_lib.dream_video(tiny(start=1.0, end=1.6, warping_error=True), source, output,
                                         progress=False)
    info = video.probe(output)
    assert info.fps == video.probe(source).fps == 25
    assert info.frame_count == result.frames == 15
    assert (info.width, info.height) == (96, 64)
    assert info.has_audio and abs(info.duration - 0.6) < 0.05
    assert 0 < result.warping_error < 0.5 and 0 < result.mean_change < 0.5
    assert not output.with_name("dream.mp4.work").exists()  # work folder removed after success


def test_resume_after_a_crash_equals_an_uninterrupted_run(tmp_path, monkeypatch):
    source = video.sample_clip("carphone")  # 30000/1001 fps
    config = tiny(end=0.25, checkpoint_every=3, keep_workdir=True)  # 8 frames
    reference = dream_video_lib.dream_video(config, source, tmp_path / "whole.mp4", progress=False)
    assert reference.frames == 8 and reference.fps == video.probe(source).fps

    dreamed = []
    original = frame_loop.FrameLoop.dream_frame

    def crash_at_frame_5(self, index, start, values):
        if index == 5:
            raise RuntimeError("simulated crash")
        dreamed.append(index)
        return original(self, index, start, values)

    monkeypatch.setattr(frame_loop.FrameLoop, "dream_frame", crash_at_frame_5)
    output = tmp_path / "resumed.mp4"
    with pytest.raises(RuntimeError, match="simulated"):
        dream_video_lib.dream_video(config, source, output, progress=False)
    assert not output.exists()
    assert dreamed == [0, 1, 2, 3, 4]  # frames 3 and 4 are done but not yet in a saved state

    dreamed.clear()
    monkeypatch.setattr(frame_loop.FrameLoop, "dream_frame", lambda self, index, start, values: (
        dreamed.append(index), original(self, index, start, values))[1])
    resumed = dream_video_lib.dream_video(config, source, output, progress=False)
    assert dreamed == [3, 4, 5, 6, 7]  # from the state saved after frame 2
    assert resumed.frames == 8
    work = {name: tmp_path / f"{name}.mp4.work" / "frames" for name in ("whole", "resumed")}
    for index in range(8):
        name = f"{index:06d}.png"
        np.testing.assert_array_equal(np.asarray(Image.open(work["resumed"] / name)),
                                      np.asarray(Image.open(work["whole"] / name)))
    np.testing.assert_array_equal(video.read_all(output), video.read_all(tmp_path / "whole.mp4"))


def test_flow_mode_carries_the_dream_along_the_motion(tmp_path):
    source = tmp_path / "moving.mp4"
    frames = conftest.translating_video(source, frames=6, size=(128, 96), speed=4)
    results = {}
    for mode in ("independent", "flow"):
        config = tiny(mode=mode, size="", flow_decay=0.8, warping_error=True, keep_workdir=True)
        results[mode] = dream_video_lib.dream_video(config, source, tmp_path / f"{mode}.mp4", progress=False)
    assert results["flow"].warping_error < 0.7 * results["independent"].warping_error
    # The dream residual of frame 5 lines up with frame 4's moved 4 px right, better in flow mode.
    def residual(mode, index):
        path = tmp_path / f"{mode}.mp4.work" / "frames" / f"{index:06d}.png"
        return np.asarray(Image.open(path)).astype(np.float32) - frames[index]
    inner = (slice(8, -8), slice(16, -8))
    def agreement(mode, shift):
        previous, current = np.roll(residual(mode, 4), shift, axis=1)[inner], residual(mode, 5)[inner]
        return np.corrcoef(previous.ravel(), current.ravel())[0, 1]
    assert agreement("flow", 4) > agreement("flow", 0) + 0.2
    assert agreement("flow", 4) > agreement("independent", 4) + 0.2


def test_predefined_start_starts_the_first_frame(tmp_path):
    source = video.sample_clip("carphone")
    start_image = tmp_path / "start.png"
    Image.fromarray(np.full((50, 70, 3), (250, 10, 10), np.uint8)).save(start_image)
    config = tiny(end=0.1, predefined_start=str(start_image), learning_rate=0.001, keep_workdir=True)
    dream_video_lib.dream_video(config, source, tmp_path / "started.mp4", progress=False)
    first = np.asarray(Image.open(tmp_path / "started.mp4.work" / "frames" / "000000.png")).astype(float)
    assert np.abs(first - (250, 10, 10)).mean() < 15


def test_frame_values_follow_keyframes_and_the_layer_schedule(tmp_path):
    config = configs.default()
    config.layer_schedule = "mixed0,inception_3b,mixed3"
    config.keyframes = "10: learning_rate=0.1 num_octaves=2; 1s: jitter=0"
    plan = plan_lib.for_video(config, video.sample_clip("bigbuckbunny"), tmp_path / "out.mp4")
    assert [plan.frame_values(i)["dream_layers"] for i in range(6)] == [
        ("mixed0",), ("mixed2",), ("mixed3",), ("mixed2",), ("mixed0",), ("mixed2",)]
    halfway = config.learning_rate + (0.1 - config.learning_rate) / 2
    assert plan.frame_values(5)["learning_rate"] == pytest.approx(halfway)
    assert plan.frame_values(5)["num_octaves"] == 3 and plan.frame_values(10)["num_octaves"] == 2
    assert plan.frame_values(24)["jitter"] == 1 and plan.frame_values(25)["jitter"] == 0  # 32 -> 0 over 25 frames
    assert plan.expected_frames() == 132


@pytest.mark.parametrize("overrides, match", [
    ({"dream_layers": "mixed3,inception_9z"}, "inception_9z.*valid layers: mixed0"),
    ({"octave_scale": 1.0}, "octave_scale must be greater than 1"),
    ({"num_iterations": 0}, "num_iterations must be at least 1"),
    ({"mode": "dreamy"}, "mode must be one of"),
    ({"model": "googlenet"}, "model 'googlenet' is not available"),
    ({"keyframes": "2: octave_scale=0.9"}, "keyframe at frame 2: octave_scale"),
    ({"predefined_start": "/nonexistent/start.png"}, "predefined_start image not found"),
    ({"channels": "5000"}, "channel 5000 is out of range for layer mixed2"),
    ({"weights": "/nonexistent/inception.npz"}, "weights file not found"),
])
def test_bad_settings_are_one_line_errors(tmp_path, overrides, match):
    with pytest.raises(errors.UserInputError, match=match) as caught:
        dream_video_lib.dream_video(tiny(end=0.1, **overrides), video.sample_clip("carphone"),
                                    tmp_path / "out.mp4", progress=False)
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "out.mp4").exists()


def test_bad_videos_and_a_foreign_work_folder(tmp_path):
    with pytest.raises(errors.VideoError):
        dream_video_lib.dream_video(tiny(), tmp_path / "missing.mp4", tmp_path / "out.mp4", progress=False)
    not_a_video = tmp_path / "notes.mp4"
    not_a_video.write_text("not a video")
    with pytest.raises(errors.VideoError):
        dream_video_lib.dream_video(tiny(), not_a_video, tmp_path / "out.mp4", progress=False)
    source = video.sample_clip("carphone")
    dream_video_lib.dream_video(tiny(end=0.1, keep_workdir=True), source, tmp_path / "out.mp4", progress=False)
    with pytest.raises(errors.CheckpointError, match="other settings: config.learning_rate was 0.05, now 0.2"):
        dream_video_lib.dream_video(tiny(end=0.1, learning_rate=0.2), source, tmp_path / "out.mp4", progress=False)


def test_script_prints_bad_input_in_one_line(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "run_scripts.deepdream_video", f"--video={video.sample_clip('carphone')}",
         f"--output={tmp_path / 'out.mp4'}", "--dream_layers=mixed3,pool5"],
        capture_output=True, text=True, timeout=120)
    assert completed.returncode == 1
    assert completed.stderr.strip().splitlines()[-1].startswith("error: unknown dream layer 'pool5'")


def test_frames_over_the_memory_budget_are_tiled_or_refused(tmp_path):
    source = video.sample_clip("carphone")
    config = tiny(size="320x240")
    dreamer = dreamers.dreamer(plan_lib.for_video(config, source, tmp_path / "out.mp4").network, ("mixed2",), ())
    # A budget that holds half of what the untiled frame needs.
    untiled = (dreamers.MEMORY_FIXED_BYTES
               + dreamers.MEMORY_PER_ACTIVATION_BYTE * dreamer.net.activation_bytes(240, 320))
    config.memory_budget_gb = (untiled + dreamers.MEMORY_FIXED_BYTES) / 2 / 2**30
    budget = dreamers.Budget(plan_lib.for_video(config, source, tmp_path / "out.mp4"))
    tile_size, margin = budget.tiles(dreamer)
    assert 0 < tile_size < 320 and tile_size % 8 == 0 and margin == config.tile_margin
    budget = dreamers.Budget(plan_lib.for_video(tiny(size="320x240", memory_budget_gb=0.01), source,
                                                tmp_path / "out.mp4"))
    with pytest.raises(errors.ConfigError, match="does not fit in 0.0 GB even in tiles"):
        budget.tiles(dreamer)
    # Explicit tiles run end to end.
    result = dream_video_lib.dream_video(tiny(end=0.1, tile_size=48, tile_margin=16), source,
                                         tmp_path / "tiled.mp4", progress=False)
    assert result.frames == 3 and video.probe(tmp_path / "tiled.mp4").frame_count == 3


def test_run_state_fingerprint_and_resume_point(tmp_path):
    source = video.sample_clip("carphone")
    config = tiny(end=0.1)

    def fingerprint(config):
        return workdir_lib.fingerprint(plan_lib.for_video(config, source, tmp_path / "out.mp4"))

    same = fingerprint(tiny(end=0.1, checkpoint_every=7, keep_workdir=True, preview_every=2))
    assert fingerprint(config) == same  # run-only fields may change on resume
    assert fingerprint(tiny(end=0.1, learning_rate=0.2)) != same
    workdir = workdir_lib.WorkDir(tmp_path / "work", same)
    fresh = workdir_lib.Resume.load(workdir)
    assert (fresh.next_frame, fresh.complete, fresh.memory_budget) == (0, False, None)
    raw = np.zeros((4, 6, 3), np.uint8)
    workdir.save_state(3, raw.astype(np.float32), raw, seed=0, memory_budget=2.0**30)
    resumed = workdir_lib.Resume.load(workdir)
    assert (resumed.next_frame, resumed.complete, resumed.memory_budget) == (3, False, 2.0**30)
    np.testing.assert_array_equal(resumed.previous_raw, raw)
    budget = dreamers.Budget(plan_lib.for_video(config, source, tmp_path / "out.mp4"), resumed.memory_budget)
    assert budget.bytes == 2.0**30  # not re-measured from the memory free now


def test_the_estimate_is_measured_after_the_first_run_of_a_workload(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NEURAL_VIDEO_STEP_TIMES", str(tmp_path / "step_times"))
    source = video.sample_clip("bigbuckbunny")
    config = tiny(start=1.0, end=1.4)
    dream_video_lib.dream_video(config, source, tmp_path / "first.mp4", progress=False)
    first = [line for line in capsys.readouterr().out.splitlines() if "s/frame" in line]
    assert len(first) == 1 and "not yet measured here" in first[0]
    dream_video_lib.dream_video(config, source, tmp_path / "second.mp4", progress=False)
    second = [line for line in capsys.readouterr().out.splitlines() if "s/frame" in line]
    # 10 frames, the first (tracing) not counted.
    assert len(second) == 1 and "(measured here over 9 frames)" in second[0]
    other = tiny(start=1.0, end=1.4, num_iterations=config.num_iterations + 1)  # another workload
    dream_video_lib.dream_video(other, source, tmp_path / "third.mp4", progress=False)
    assert "not yet measured here" in capsys.readouterr().out
