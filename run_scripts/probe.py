"""Prints what a video holds: size, exact frame rate, frame count, duration, rotation, audio.

    python -m run_scripts.probe VIDEO [VIDEO ...]
"""

from absl import app

from videocore import cli
from videocore import video


def main(argv):
    if len(argv) < 2:
        raise app.UsageError("give one or more video files")
    for path in argv[1:]:
        info = video.probe(path)
        print(f"{info.path}: {info.width}x{info.height} {info.fps} fps ({float(info.fps):.3f}), "
              f"{info.frame_count} frames, {info.duration:.3f} s, rotation {info.rotation}, {info.pix_fmt}, "
              f"{'audio ' + str(info.audio_rate) + ' Hz' if info.has_audio else 'no audio'}"
              f"{', variable frame rate' if info.variable_frame_rate else ''}")


def run():
    cli.run(main)


if __name__ == "__main__":
    run()
