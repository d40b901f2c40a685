"""Every kind of bad or unusual input either works or fails with one clear line naming the file."""

import subprocess
import sys

import numpy as np
import pytest

from tests import synthetic
from videocore import errors
from videocore import framestore
from videocore import video


def _error_line(excinfo, path, reason_part):
    message = str(excinfo.value)
    assert "\n" not in message
    assert str(path) in message
    assert reason_part in message


def test_nonexistent_path(tmp_path):
    path = tmp_path / "missing.mp4"
    with pytest.raises(errors.VideoError) as excinfo:
        video.probe(path)
    _error_line(excinfo, path, "no such file")


def test_directory_without_videos(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(errors.VideoError) as excinfo:
        video.find_videos(tmp_path)
    _error_line(excinfo, tmp_path, "contains no video files")
    with pytest.raises(errors.VideoError) as excinfo:
        video.probe(tmp_path)
    _error_line(excinfo, tmp_path, "is a directory")


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.mp4"
    path.touch()
    with pytest.raises(errors.VideoError) as excinfo:
        video.probe(path)
    _error_line(excinfo, path, "empty")


def test_text_file_named_mp4(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n" * 50)
    with pytest.raises(errors.VideoError) as excinfo:
        video.probe(path)
    _error_line(excinfo, path, "not a video file")


def test_truncated_mp4(tmp_path):
    whole = synthetic.write_video(tmp_path / "whole.mp4", num_frames=30)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])  # the index (moov) is at the end
    with pytest.raises(errors.VideoError) as excinfo:
        video.probe(cut)
    _error_line(excinfo, cut, "truncated")


def test_audio_only_file(tmp_path):
    path = synthetic.write_audio_only(tmp_path / "voice.m4a")
    with pytest.raises(errors.VideoError) as excinfo:
        video.probe(path)
    _error_line(excinfo, path, "no video stream")


def test_single_frame_video(tmp_path):
    path = synthetic.write_video(tmp_path / "one.mp4", num_frames=1)
    info = video.probe(path)
    assert info.frame_count == 1
    assert video.read_all(path).shape == (1, 48, 64, 3)


def test_wide_film_cropped_to_16_9(tmp_path):
    path = synthetic.write_video(tmp_path / "scope.mp4", num_frames=4, width=188, height=80)  # 2.35:1
    frames = video.read_all(path, aspect="16:9", size=(64, 36))
    assert frames.shape == (4, 36, 64, 3)
    assert video.read_all(path, aspect="16:9").shape == (4, 80, 142, 3)


@pytest.mark.parametrize("pix_fmt", ["gray", "yuv420p10le"])
def test_grayscale_and_ten_bit(tmp_path, pix_fmt):
    frames = np.stack([synthetic.pattern_frame(i, 64, 48) for i in range(6)])
    if pix_fmt == "gray":
        frames = np.repeat(frames.mean(axis=-1, keepdims=True).astype(np.uint8), 3, axis=-1)
    codec = "ffv1" if pix_fmt == "gray" else "libx264"
    path = synthetic.write_video(tmp_path / f"{pix_fmt}.mkv", frames=frames, pix_fmt=pix_fmt, codec=codec)
    info = video.probe(path)
    assert info.pix_fmt == pix_fmt
    decoded = video.read_all(path)
    assert decoded.shape == (6, 48, 64, 3) and decoded.dtype == np.uint8
    assert np.abs(decoded.astype(int) - frames.astype(int)).mean() < 4.0


def test_odd_width_and_height(tmp_path):
    frames = np.stack([synthetic.pattern_frame(i, 63, 47) for i in range(4)])
    path = synthetic.write_video(tmp_path / "odd.mkv", frames=frames, codec="ffv1", pix_fmt="yuv444p")
    info = video.probe(path)
    assert (info.width, info.height) == (63, 47)
    assert video.read_all(path).shape == (4, 47, 63, 3)


def test_non_ascii_path(tmp_path):
    folder = tmp_path / "vidéos ünïcode 映画"
    folder.mkdir()
    path = synthetic.write_video(folder / "été.mp4", num_frames=5)
    assert video.probe(path).frame_count == 5
    store = framestore.FrameStore.open_or_build(path, size=(32, 24), cache_dir=tmp_path / "cache", progress=False)
    assert len(store) == 5
    out = folder / "sortie.mp4"
    with video.VideoWriter(out, 25) as writer:
        writer.write(store.frames[:])
    assert video.probe(out).frame_count == 5


def test_empty_time_range(tmp_path):
    path = synthetic.write_video(tmp_path / "short.mp4", num_frames=10)
    with pytest.raises(errors.ConfigError, match="empty time range"):
        list(video.read_frames(path, start=0.2, end=0.2))
    with pytest.raises(errors.ConfigError, match="past the end"):
        list(video.read_frames(path, start=5.0))


def test_script_prints_one_line_and_exits_nonzero(tmp_path):
    missing = tmp_path / "nope.mp4"
    result = subprocess.run([sys.executable, "-m", "run_scripts.probe", str(missing)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [f"error: {missing}: no such file"]
    assert "Traceback" not in result.stderr
