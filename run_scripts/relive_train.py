"""Trains a relive model (3D WGAN, conditional WGAN or LSTM predictor); resumes automatically from --workdir.

    python -m run_scripts.relive_train --config=relive/configs.py:seed --workdir=runs/wgan \
        --config.data.source=/data/UCF-101 --config.critic.penalty=gradient
    python -m run_scripts.relive_train --config=relive/configs.py:seed --config.model=predictor --workdir=runs/lstm
Watch it with `tensorboard --logdir runs/wgan/tensorboard`. Kept short on purpose: the work is
`relive.train.train_and_evaluate`.
"""

from absl import flags

from videocore import cli

FLAGS = flags.FLAGS
cli.config_flag("relive/configs.py:quick", "Preset file:name, e.g. relive/configs.py:seed.")
flags.DEFINE_string("workdir", None, "Checkpoints, TensorBoard logs and samples go here.", required=True)


def main(argv):
    del argv
    from relive import train  # after flag parsing: TensorFlow starts only for real work
    from videocore import distribute

    distribute.start(FLAGS.config.loop)  # before anything that runs a TensorFlow op
    result = train.train_and_evaluate(FLAGS.config, FLAGS.workdir)
    print(f"stopped at step {result.step}; checkpoint {result.checkpoint}")
    for path in result.outputs:
        print(f"sample: {path}")
    for name, value in result.evaluation.items():
        print(f"held-out {name}: {value:.2f}")


def run():
    cli.run(main)


if __name__ == "__main__":
    run()
