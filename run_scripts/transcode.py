"""Crops, resizes and trims a video, keeping its exact frame rate and its audio for the same span.

    python -m run_scripts.transcode --input=film.mkv --output=small.mp4 --size=256x144 --aspect=16:9
"""

from absl import flags

from videocore import cli
from videocore import video

FLAGS = flags.FLAGS
flags.DEFINE_string("input", None, "Video to read.", required=True)
flags.DEFINE_string("output", None, "Video to write (.mp4, .mkv or .mov).", required=True)
flags.DEFINE_string("size", None, "WIDTHxHEIGHT to resize to (area filter); default keeps the size.")
flags.DEFINE_string("aspect", None, "Center-crop to this aspect first, e.g. 16:9.")
flags.DEFINE_float("start", None, "Start time in seconds.")
flags.DEFINE_float("end", None, "End time in seconds.")
flags.DEFINE_integer("quality", 18, "x264 CRF: 0 lossless, 18 visually lossless, 23 default.")


def main(argv):
    del argv
    info = video.transcode(FLAGS.input, FLAGS.output, size=video.parse_size(FLAGS.size), aspect=FLAGS.aspect,
                           start=FLAGS.start, end=FLAGS.end, quality=FLAGS.quality)
    print(f"wrote {FLAGS.output}: {info.width}x{info.height}, {info.frame_count} frames at {info.fps} fps, "
          f"{'with' if info.has_audio else 'no'} audio")


def run():
    cli.run(main)


if __name__ == "__main__":
    run()
