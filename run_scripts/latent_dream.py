"""Dreams a video with a trained sequence model, or interpolates in the VAE-GAN's latent space.

    python -m run_scripts.latent_dream --workdir=runs/br_dream --output=dream.mp4 --seconds=60 \
        --config.dream.temperature=0.8 [--seed_video=other.mp4] [--config.dream.reseed_every=250]
    python -m run_scripts.latent_dream --mode=interpolate --vaegan_workdir=runs/br --output=morph.mp4 \
        --from=a.mp4@12.5 --to=b.mp4@3     (two frames; --config.interpolate.num_frames of them)
    python -m run_scripts.latent_dream --mode=interpolate --vaegan_workdir=runs/br --output=morph.mp4 \
        --from=a.mp4 --to=b.mp4            (two videos playing, the first turning into the second)
"""

from absl import flags

from videocore import cli
from videocore import errors

FLAGS = flags.FLAGS
cli.config_flag("vaegan_video/latent_dream/configs.py:default", "Preset whose dream / interpolate blocks are used.")
flags.DEFINE_enum("mode", "dream", ["dream", "interpolate"], "Dream with the sequence model, or interpolate.")
flags.DEFINE_string("output", None, "The video to write.", required=True)
flags.DEFINE_string("workdir", None, "dream: the sequence model's workdir (run_scripts.latent_dream_train).")
flags.DEFINE_string("vaegan_workdir", None, "interpolate: the VAE-GAN's workdir (dream: overrides the run's).")
flags.DEFINE_float("seconds", None, "dream: length in seconds (else config.dream.num_frames frames).")
flags.DEFINE_string("seed_video", None, "dream: video whose first frames seed the dream (default: the training one).")
flags.DEFINE_float("fps", None, "Frame rate of the output (default: the seed / first video's).")
flags.DEFINE_string("from", None, "interpolate: video[@seconds] to start from.")
flags.DEFINE_string("to", None, "interpolate: video[@seconds] to end at.")


def main(argv):
    del argv
    from vaegan_video.latent_dream import dream  # after flag parsing: TensorFlow starts only for real work

    config = FLAGS.config
    if FLAGS.mode == "dream":
        if not FLAGS.workdir:
            raise errors.ConfigError("--workdir: give the sequence model's workdir to dream with")
        info = dream.dream_video(FLAGS.workdir, FLAGS.output, config=config, seed_video=FLAGS.seed_video,
                                 vaegan_workdir=FLAGS.vaegan_workdir, fps=FLAGS.fps, seconds=FLAGS.seconds)
    else:
        if not (FLAGS.vaegan_workdir and FLAGS["from"].value and FLAGS.to):
            raise errors.ConfigError("--mode=interpolate needs --vaegan_workdir, --from and --to")
        info = dream.interpolate(FLAGS.vaegan_workdir, FLAGS["from"].value, FLAGS.to, FLAGS.output,
                                 num_frames=config.interpolate.num_frames, mode=config.interpolate.mode, fps=FLAGS.fps)
    print(f"wrote {FLAGS.output}: {info.frame_count} frames {info.width}x{info.height} at {info.fps} fps")


def run():
    cli.run(main)


if __name__ == "__main__":
    run()
