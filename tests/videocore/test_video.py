"""Video probe, reader and writer on real files written with PyAV and the bundled clips."""

import fractions
import re

import numpy as np
import pytest

from tests import synthetic
from videocore import errors
from videocore import video

NTSC_FILM = fractions.Fraction(24000, 1001)


def test_round_trip_ntsc_rate_with_audio(tmp_path):
    source = synthetic.write_video(tmp_path / "source.mp4", num_frames=48, fps=NTSC_FILM, audio_seconds=3.0)
    frames = video.read_all(source)
    assert frames.shape == (48, 48, 64, 3)

    output = tmp_path / "out.mp4"
    with video.VideoWriter(output, NTSC_FILM, audio_source=source) as writer:
        writer.write(frames[:24])
        writer.write(frames[24])
        for frame in frames[25:]:
            writer.write(frame)
    info = video.probe(output)
    assert info.fps == NTSC_FILM  # exact, not 23.976
    assert info.frame_count == 48
    assert info.has_audio
    video_seconds = 48 / float(NTSC_FILM)
    assert abs(info.duration - video_seconds) < 1 / float(NTSC_FILM)
    # The source audio is 3 s; only the span of the video (2.002 s) is kept, to within one AAC frame.
    assert abs(synthetic.audio_duration(output) - video_seconds) < 1024 / 48000 + 1e-3
    # What we wrote is what we read (x264 at CRF 18 is near-lossless on this pattern).
    decoded = video.read_all(output)
    assert decoded.shape == frames.shape
    assert np.abs(decoded.astype(int) - frames.astype(int)).mean() < 3.0


def test_audio_follows_the_time_range(tmp_path):
    source = synthetic.write_video(tmp_path / "source.mp4", num_frames=75, fps=25, audio_seconds=3.0)
    frames = list(video.read_frames(source, start=1.0, end=2.0))
    assert len(frames) == 25
    output = tmp_path / "middle.mp4"
    with video.VideoWriter(output, 25, audio_source=source, audio_start=1.0) as writer:
        writer.write(np.stack(frames))
    assert abs(synthetic.audio_duration(output) - 1.0) < 0.03


def test_uncopyable_audio_is_reencoded_to_the_sample(tmp_path):
    # PCM in a MOV cannot be copied into MP4 as is: it is decoded, cut and re-encoded as AAC.
    source = synthetic.write_video(tmp_path / "pcm.mov", num_frames=50, fps=25, audio_seconds=2.5,
                                   audio_codec="pcm_s16le")
    output = tmp_path / "out.mp4"
    with video.VideoWriter(output, 25, audio_source=source, audio_start=0.4) as writer:
        writer.write(video.read_all(source, start=0.4, end=1.4))
    assert video.probe(output).has_audio
    assert abs(synthetic.audio_duration(output) - 1.0) < 0.03


def test_bundled_bikes_clip():
    info = video.probe(video.sample_clip("bikes"))
    assert (info.width, info.height, info.fps, info.frame_count) == (640, 272, 25, 250)
    assert not info.has_audio
    count = sum(1 for _ in video.read_frames(video.sample_clip("bikes"), size=(160, 68)))
    assert count == 250


def test_bundled_clip_with_audio_keeps_it(tmp_path):
    source = video.sample_clip("bigbuckbunny")
    info = video.probe(source)
    assert info.has_audio and info.frame_count == 132
    output = tmp_path / "bunny.mp4"
    with video.VideoWriter(output, info.fps, audio_source=source) as writer:
        for frame in video.read_frames(source, size=(128, 72)):
            writer.write(frame)
    out = video.probe(output)
    assert (out.frame_count, out.fps, out.has_audio) == (132, 25, True)
    assert abs(synthetic.audio_duration(output) - 132 / 25) < 0.05


def test_crop_box_geometry():
    # A 2.35:1 film cropped to 16:9 keeps its full height and loses the sides equally.
    x, y, w, h = video.crop_box(1920, 817, 16 / 9)
    assert (h, y) == (817, 0)
    assert w == round(817 * 16 / 9) and x == (1920 - w) // 2
    # A 4:3 frame cropped to 16:9 loses top and bottom.
    assert video.crop_box(640, 480, 16 / 9) == (0, 60, 640, 360)
    assert video.crop_box(640, 480, None) == (0, 0, 640, 480)
    assert video.parse_aspect("16:9") == pytest.approx(16 / 9)
    assert video.parse_aspect("2.35") == pytest.approx(2.35)
    with pytest.raises(errors.ConfigError):
        video.parse_aspect("wide")


def test_crop_and_resize_take_the_centre(tmp_path):
    # Left third red, middle third green, right third blue: a 1:1 crop of a 3:1 frame is all green.
    frame = np.zeros((40, 120, 3), np.uint8)
    frame[:, :40, 0] = 255
    frame[:, 40:80, 1] = 255
    frame[:, 80:, 2] = 255
    path = synthetic.write_video(tmp_path / "thirds.mp4", frames=np.stack([frame] * 3), fps=10)
    out = video.read_all(path, aspect="1:1", size=(20, 20))
    assert out.shape == (3, 20, 20, 3)
    centre = out[:, 3:-3, 3:-3].reshape(-1, 3).mean(axis=0)
    assert centre[1] > 200 and centre[0] < 40 and centre[2] < 40


def test_time_range_frames_are_the_right_ones(tmp_path):
    path = synthetic.write_video(tmp_path / "count.mp4", num_frames=50, fps=25)
    everything = video.read_all(path)
    part = video.read_all(path, start=0.4, end=1.2)
    assert len(part) == 20
    # Frame 10 is the first at or after 0.4 s.
    assert np.abs(part[0].astype(int) - everything[10].astype(int)).mean() < 1.0
    assert np.abs(part[-1].astype(int) - everything[29].astype(int)).mean() < 1.0


def test_rotation_metadata_is_honoured(tmp_path):
    path = synthetic.write_video(tmp_path / "rotated.mp4", num_frames=5, width=64, height=32, rotation=90)
    info = video.probe(path)
    assert info.rotation in (90, 270)
    assert (info.width, info.height) == (32, 64)
    frames = video.read_all(path)
    assert frames.shape == (5, 64, 32, 3)
    assert video.read_all(path, size=(16, 32)).shape == (5, 32, 16, 3)


def test_variable_frame_rate_comes_out_constant(tmp_path):
    # 20 frames whose gaps alternate 20 ms and 60 ms: 0.8 s at an average 25 fps.
    pts = np.cumsum([0] + [20 if i % 2 == 0 else 60 for i in range(19)]).tolist()
    path = synthetic.write_video(tmp_path / "vfr.mp4", num_frames=20, fps=25, pts=pts)
    info = video.probe(path)
    assert info.variable_frame_rate
    frames = video.read_all(path)
    assert len(frames) == info.frame_count
    assert abs(len(frames) / float(info.fps) - (pts[-1] + 40) / 1000) < 2 / float(info.fps)


def test_writer_pads_odd_sizes_and_leaves_nothing_on_failure(tmp_path):
    output = tmp_path / "odd.mp4"
    with video.VideoWriter(output, 10) as writer:
        writer.write(np.full((3, 33, 17, 3), 128, np.uint8))
    info = video.probe(output)
    assert (info.width, info.height) == (18, 34)

    failed = tmp_path / "failed.mp4"
    with pytest.raises(RuntimeError):
        with video.VideoWriter(failed, 10) as writer:
            writer.write(np.zeros((2, 16, 16, 3), np.uint8))
            raise RuntimeError("crash mid-write")
    assert list(tmp_path.iterdir()) == [output]


def test_writer_rejects_changing_sizes(tmp_path):
    with pytest.raises(ValueError, match="size changed"):
        with video.VideoWriter(tmp_path / "x.mp4", 10) as writer:
            writer.write(np.zeros((16, 16, 3), np.uint8))
            writer.write(np.zeros((16, 18, 3), np.uint8))
    assert not (tmp_path / "x.mp4").exists()


def test_fast_plane_resize_matches_full_rgb_then_area_resize():
    import cv2

    path = video.sample_clip("bikes")
    fast = video.read_all(path, end=0.4, aspect="16:9", size=(128, 72))
    full = video.read_all(path, end=0.4)
    x, y, w, h = video.crop_box(full.shape[2], full.shape[1], 16 / 9)
    reference = np.stack([cv2.resize(f[y:y + h, x:x + w], (128, 72), interpolation=cv2.INTER_AREA) for f in full])
    assert fast.shape == reference.shape == (10, 72, 128, 3)
    assert np.abs(fast.astype(int) - reference.astype(int)).mean() < 3.0


def test_outputs_get_ordinary_file_permissions(tmp_path):
    import os
    import stat

    output = tmp_path / "perm.mp4"
    with video.VideoWriter(output, 10) as writer:
        writer.write(np.zeros((2, 16, 16, 3), np.uint8))
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(output.stat().st_mode) == 0o666 & ~mask


def test_writer_threads_reach_libx264(tmp_path):
    # reconstruct encodes with one thread (libx264's pool fights TensorFlow's for the cores); x264 writes
    # its settings into the stream (an SEI message), so the file itself says how many threads it used.
    frames = np.random.default_rng(0).integers(0, 256, (6, 240, 320, 3), dtype=np.uint8)  # x264 caps threads by rows
    settings = {}
    for threads in (1, 2):
        path = tmp_path / f"t{threads}.mp4"
        with video.VideoWriter(path, 10, threads=threads) as writer:
            writer.write(frames)
        settings[threads] = re.search(rb" threads=(\d+)", path.read_bytes()).group(1)
        assert video.probe(path).frame_count == 6
    assert settings == {1: b"1", 2: b"2"}
