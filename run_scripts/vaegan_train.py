"""Trains the VAE-GAN on one or more films; resumes automatically from --workdir.

    python -m run_scripts.vaegan_train --config=vaegan_video/configs.py:blade_runner \
        --video=blade_runner.mkv --workdir=runs/br --config.data.start=180 --config.data.end=6900
Watch it with `tensorboard --logdir runs/br/tensorboard`.
"""

import pathlib

from absl import flags
from ml_collections import config_flags

from videocore import cli

CONFIGS = pathlib.Path(__file__).resolve().parents[1] / "vaegan_video" / "configs.py"
FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", f"{CONFIGS}:quick", "Preset file:name, e.g. vaegan_video/configs.py:quick.")
flags.DEFINE_string("workdir", None, "Checkpoints, TensorBoard logs and samples go here.", required=True)
flags.DEFINE_list("video", [], "Video(s) to train on (sets config.data.videos).")


def main(argv):
    del argv
    from vaegan_video import train  # after flag parsing: TensorFlow starts only for real work

    config = FLAGS.config
    if FLAGS.video:
        config.data.videos = tuple(FLAGS.video)
    result = train.train_and_evaluate(config, FLAGS.workdir)
    print(f"stopped at step {result.step} (epoch {result.position.epoch}); checkpoint {result.checkpoint}")


if __name__ == "__main__":
    cli.run(main)
