"""Joins the shards of a `--shard=i/N` DeepDream run into one video with the source's audio, in one pass.

    python -m run_scripts.deepdream_merge --output=film.mp4 [--video=moved/source.mp4]

--output is the path every shard was given (they wrote film.shard-i-of-N.mp4 + .json beside it).
Missing or mismatched shards are refused in one line before anything is written. Kept short on
purpose: the work is `deepdream_video.shards.merge`.
"""
from absl import flags

from videocore import cli

FLAGS = flags.FLAGS
flags.DEFINE_string("output", None, "The output path the sharded runs were given.", required=True)
flags.DEFINE_string("video", None, "The source video, if it moved since the shards were dreamed.")
flags.DEFINE_integer("quality", 18, "H.264 CRF of the joined video.")


def main(argv):
    del argv
    from deepdream_video import shards

    info = shards.merge(FLAGS.output, video=FLAGS.video, quality=FLAGS.quality)
    print(f"wrote {FLAGS.output}: {info.frame_count} frames {info.width}x{info.height} at {info.fps} fps"
          f"{', with audio' if info.has_audio else ''}")


def run():
    cli.run(main)


if __name__ == "__main__":
    run()
