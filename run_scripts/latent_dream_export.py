"""Exports a trained sequence model and its VAE-GAN as SavedModels (dreaming with TensorFlow alone).

    python -m run_scripts.latent_dream_export --workdir=runs/br_dream --export_dir=runs/br_dream/export
"""

from absl import flags

from videocore import cli

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "The sequence model's workdir (run_scripts.latent_dream_train).", required=True)
flags.DEFINE_string("export_dir", None, "Where sequence/ and vaegan/{encoder,decoder,autoencoder}/ go.",
                    required=True)


def main(argv):
    del argv
    from vaegan_video.latent_dream import export as latent_export

    for name, path in latent_export.export_models(FLAGS.workdir, FLAGS.export_dir).items():
        print(f"{name}: {path}")


def run():
    cli.run(main)


if __name__ == "__main__":
    run()
