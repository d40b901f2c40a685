"""Exports a trained VAE-GAN as SavedModels: encoder (frames -> mu), decoder (z -> frames), autoencoder.

    python -m run_scripts.vaegan_export --workdir=runs/br --export_dir=runs/br/export
"""

from absl import flags

from videocore import cli

FLAGS = flags.FLAGS
cli.config_flag("vaegan_video/configs.py:quick", "Preset (the model size is read from the workdir).")
flags.DEFINE_string("workdir", None, "The training run's workdir.", required=True)
flags.DEFINE_string("export_dir", None, "Where encoder/, decoder/ and autoencoder/ go.", required=True)


def main(argv):
    del argv
    from vaegan_video import export

    for name, path in export.export_models(FLAGS.config, FLAGS.workdir, FLAGS.export_dir).items():
        print(f"{name}: {path}")


def run():
    cli.run(main)


if __name__ == "__main__":
    run()
