"""Trains a relive model (3D WGAN, conditional WGAN or LSTM predictor); resumes automatically from --workdir.

    python -m run_scripts.relive_train --config=relive/configs.py:seed --workdir=runs/wgan \
        --config.data.source=/data/UCF-101 --config.critic.penalty=gradient
    python -m run_scripts.relive_train --config=relive/configs.py:seed --config.model=predictor --workdir=runs/lstm
Watch it with `tensorboard --logdir runs/wgan/tensorboard`. Kept short on purpose: the work is
`relive.train.train_and_evaluate`.
"""
import pathlib

from absl import flags
from ml_collections import config_flags

from videocore import cli

CONFIGS = pathlib.Path(__file__).resolve().parents[1] / "relive" / "configs.py"
FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", f"{CONFIGS}:quick", "Preset file:name, e.g. relive/configs.py:seed.")
flags.DEFINE_string("workdir", None, "Checkpoints, TensorBoard logs and samples go here.", required=True)


def main(argv):
    del argv
    from relive import train  # after flag parsing: TensorFlow starts only for real work

    outcome = train.train_and_evaluate(FLAGS.config, FLAGS.workdir)
    result = outcome.result
    print(f"stopped at step {result.step}; checkpoint {result.checkpoint}")
    for path in outcome.outputs:
        print(f"sample: {path}")
    for name, value in outcome.evaluation.items():
        print(f"held-out next-frame PSNR {name}: {value:.2f} dB")


if __name__ == "__main__":
    cli.run(main)
