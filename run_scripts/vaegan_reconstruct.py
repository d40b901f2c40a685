"""Passes a whole video through a trained VAE-GAN (section 4.6) and writes it with its audio.

    python -m run_scripts.vaegan_reconstruct --workdir=runs/br --video=film.mkv --output=film_vaegan.mp4
"""

from absl import flags

from videocore import cli

FLAGS = flags.FLAGS
cli.config_flag("vaegan_video/configs.py:quick", "Preset (the model size is read from the workdir).")
flags.DEFINE_string("workdir", None, "The training run's workdir.", required=True)
flags.DEFINE_string("video", None, "Video to reconstruct (the training film or any other).", required=True)
flags.DEFINE_string("output", None, "Output video.", required=True)
flags.DEFINE_bool("side_by_side", False, "Write original | reconstruction.")
flags.DEFINE_float("noise", None, "Sigma of eps when encoding (default config.reconstruct.noise, 0).")
flags.DEFINE_float("start", None, "Start time (s).")
flags.DEFINE_float("end", None, "End time (s).")


def main(argv):
    del argv
    from vaegan_video import reconstruct

    info = reconstruct.reconstruct(FLAGS.config, FLAGS.workdir, FLAGS.video, FLAGS.output,
                                   side_by_side=FLAGS.side_by_side, noise=FLAGS.noise, start=FLAGS.start,
                                   end=FLAGS.end)
    print(f"wrote {FLAGS.output}: {info.frame_count} frames at {info.fps} fps, {'with' if info.has_audio else 'no'} audio")


def run():
    cli.run(main)


if __name__ == "__main__":
    run()
