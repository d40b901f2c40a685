"""Writes a grid of clips from a trained unconditional relive generator as GIF and MP4.

    python -m run_scripts.relive_sample --workdir=runs/wgan --output=samples/grid --num_clips=16
(--output's suffix is replaced: grid.gif and grid.mp4 are written.)
"""

from absl import flags

from videocore import cli

FLAGS = flags.FLAGS
cli.config_flag("relive/configs.py:quick", "Preset (network sizes are read from the workdir).")
flags.DEFINE_string("workdir", None, "The training run's workdir.", required=True)
flags.DEFINE_string("output", None, "Output path without suffix; .gif and .mp4 are written.", required=True)
flags.DEFINE_integer("num_clips", None, "Clips in the grid (default config.sample.num_clips).")
flags.DEFINE_integer("seed", None, "Noise seed (default config.sample.seed).")


def main(argv):
    del argv
    from relive import sample

    for path in sample.sample_grid(FLAGS.config, FLAGS.workdir, FLAGS.output, FLAGS.num_clips, FLAGS.seed):
        print(path)


def run():
    cli.run(main)


if __name__ == "__main__":
    run()
