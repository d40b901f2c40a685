"""Trains the latent sequence model (neural dream videos) over a trained VAE-GAN; resumes from --workdir.

    python -m run_scripts.latent_dream_train --vaegan_workdir=runs/br --video=blade_runner.mkv \
        --workdir=runs/br_dream --config=vaegan_video/latent_dream/configs.py:default --config.model.head=l2
Watch it with `tensorboard --logdir runs/br_dream/tensorboard`.
"""

from absl import flags

from videocore import cli

FLAGS = flags.FLAGS
cli.config_flag("vaegan_video/latent_dream/configs.py:default",
                "Preset file:name, e.g. vaegan_video/latent_dream/configs.py:quick.")
flags.DEFINE_string("workdir", None, "Checkpoints, TensorBoard logs and samples go here.", required=True)
flags.DEFINE_string("vaegan_workdir", None, "The trained VAE-GAN's workdir (sets config.vaegan_workdir).")
flags.DEFINE_list("video", [], "Video(s) whose latent sequences to learn (sets config.data.videos).")


def main(argv):
    del argv
    from vaegan_video.latent_dream import train as latent_train  # after flag parsing: TensorFlow starts only for real work
    from videocore import distribute

    config = FLAGS.config
    distribute.start(config.loop)  # before the VAE-GAN encodes the latents: TensorFlow's first op comes after it
    if FLAGS.vaegan_workdir:
        config.vaegan_workdir = FLAGS.vaegan_workdir
    if FLAGS.video:
        config.data.videos = tuple(FLAGS.video)
    result = latent_train.train_and_evaluate(config, FLAGS.workdir)
    print(f"stopped at step {result.step} (epoch {result.position.epoch}); checkpoint {result.checkpoint}")


def run():
    cli.run(main)


if __name__ == "__main__":
    run()
