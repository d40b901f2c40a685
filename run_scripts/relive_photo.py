"""Relives a photo: a clip generated around it (conditional WGAN) and an LSTM roll-out after it, as GIF + MP4.

    python -m run_scripts.relive_photo --photo=me.jpg --output_dir=out \
        --conditional_workdir=runs/cond --predictor_workdir=runs/lstm
A photo of another size is centre-cropped and resized (with a note); grayscale or RGBA photos are
converted to RGB.
"""

from absl import flags

from videocore import cli

FLAGS = flags.FLAGS
cli.config_flag("relive/configs.py:quick", "Preset (network sizes are read from the workdirs).")
flags.DEFINE_string("photo", None, "The still image to relive.", required=True)
flags.DEFINE_string("output_dir", None, "Where <photo>_conditional.* and <photo>_rollout.* go.", required=True)
flags.DEFINE_string("conditional_workdir", None, "Workdir of a trained conditional WGAN.")
flags.DEFINE_string("predictor_workdir", None, "Workdir of a trained LSTM predictor.")
flags.DEFINE_integer("variations", 1, "Conditional clips side by side, each from other noise.")
flags.DEFINE_integer("seed", None, "Noise seed (default config.sample.seed).")


def main(argv):
    del argv
    from relive import sample

    for path in sample.relive_photo(FLAGS.config, FLAGS.photo, FLAGS.output_dir, FLAGS.conditional_workdir,
                                    FLAGS.predictor_workdir, FLAGS.variations, FLAGS.seed):
        print(path)


def run():
    cli.run(main)


if __name__ == "__main__":
    run()
