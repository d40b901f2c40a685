"""Exports a trained relive model as a SavedModel: generator, conditional_generator or predictor.

    python -m run_scripts.relive_export --workdir=runs/wgan --export_dir=runs/wgan/export \
        [--model=wgan|conditional|predictor]
The SavedModel loads with `tf.saved_model.load` alone; see relive/export.py for its signatures.
"""

from absl import flags

from videocore import cli

FLAGS = flags.FLAGS
cli.config_flag("relive/configs.py:quick", "Preset (network sizes are read from the workdir).")
flags.DEFINE_string("workdir", None, "The training run's workdir.", required=True)
flags.DEFINE_string("export_dir", None, "The SavedModel goes in a folder named after the network here.",
                    required=True)
flags.DEFINE_enum("model", None, ["wgan", "conditional", "predictor"], "What the workdir trained "
                  "(default: the model saved with the run, else config.model).")


def main(argv):
    del argv
    from relive import export

    print(export.export_trained(FLAGS.config, FLAGS.workdir, FLAGS.export_dir, FLAGS.model))


def run():
    cli.run(main)


if __name__ == "__main__":
    run()
