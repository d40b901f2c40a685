"""Writes small real video files with PyAV for tests: known content, rates, audio, odd formats."""

import fractions
import pathlib

import av
import numpy as np


def pattern_frame(index: int, width: int, height: int) -> np.ndarray:
    """A frame whose content encodes its index: a bright bar that moves, over a gradient. (H, W, 3) uint8."""
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    frame = np.stack([np.broadcast_to(x, (height, width)), np.broadcast_to(y, (height, width)),
                      np.full((height, width), (index * 37) % 256, np.float32)], axis=-1)
    bar = (index * 4) % max(1, width - 4)
    frame[:, bar:bar + 4] = 255
    return frame.astype(np.uint8)


def write_video(path, *, frames=None, num_frames=24, width=64, height=48, fps=25, codec="libx264",
                pix_fmt="yuv420p", audio_seconds=None, audio_rate=48000, audio_codec="aac", rotation=None,
                pts=None, container_format=None):
    """Writes a test video and returns its path.

    frames: (N, H, W, 3) uint8 to write (default: `pattern_frame`s).
    audio_seconds: add a 440 Hz sine track this long (None = no audio).
    rotation: display rotation in degrees (written as the display matrix).
    pts: explicit presentation times in units of 1/1000 s (for variable frame rate).
    """
    path = pathlib.Path(path)
    fps = fractions.Fraction(fps)
    if frames is None:
        frames = np.stack([pattern_frame(i, width, height) for i in range(num_frames)])
    container = av.open(str(path), mode="w", format=container_format)
    stream = container.add_stream(codec, rate=fps)
    stream.width, stream.height = frames.shape[2], frames.shape[1]
    stream.pix_fmt = pix_fmt
    if pts is not None:
        stream.codec_context.time_base = fractions.Fraction(1, 1000)
    else:
        stream.codec_context.time_base = 1 / fps
    if codec == "libx264":
        stream.options = {"crf": "10"}
    if rotation is not None:
        stream.set_display_rotation(rotation)
    audio = None
    if audio_seconds:
        audio = container.add_stream(audio_codec, rate=audio_rate)
        audio.layout = "mono"
    for i, array in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(array, format="rgb24")
        frame.pts = pts[i] if pts is not None else i
        frame.time_base = stream.codec_context.time_base
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))
    if audio is not None:
        total = int(audio_seconds * audio_rate)
        t = np.arange(total) / audio_rate
        samples = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        fmt = "fltp" if audio_codec == "aac" else "s16"
        chunk = 1024
        for start in range(0, total, chunk):
            piece = samples[start:start + chunk][None]
            if fmt == "s16":
                piece = (piece * 32767).astype(np.int16)
            frame = av.AudioFrame.from_ndarray(piece, format=fmt, layout="mono")
            frame.sample_rate = audio_rate
            frame.pts = start
            container.mux(audio.encode(frame))
        container.mux(audio.encode(None))
    container.close()
    return path


def write_audio_only(path, seconds=1.0, rate=44100):
    container = av.open(str(path), mode="w")
    audio = container.add_stream("aac", rate=rate)
    audio.layout = "mono"
    total = int(seconds * rate)
    for start in range(0, total, 1024):
        piece = np.zeros((1, min(1024, total - start)), np.float32)
        frame = av.AudioFrame.from_ndarray(piece, format="fltp", layout="mono")
        frame.sample_rate = rate
        frame.pts = start
        container.mux(audio.encode(frame))
    container.mux(audio.encode(None))
    container.close()
    return pathlib.Path(path)


def audio_duration(path) -> float:
    """Seconds of decoded audio samples in a file (0.0 when it has no audio)."""
    container = av.open(str(path))
    try:
        if not container.streams.audio:
            return 0.0
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return samples / stream.codec_context.sample_rate
    finally:
        container.close()
