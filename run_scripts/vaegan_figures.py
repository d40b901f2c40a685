"""Real vs reconstructed frames every N frames (Figures 5.7-5.8) or a collapse strip (Figure 6.4).

    python -m run_scripts.vaegan_figures --workdir=runs/br --video=film.mkv --output=fig.png --every=75 --count=8
"""

from absl import flags

from videocore import cli

FLAGS = flags.FLAGS
cli.config_flag("vaegan_video/configs.py:quick", "Preset (the model size is read from the workdir).")
flags.DEFINE_string("workdir", None, "The training run's workdir.", required=True)
flags.DEFINE_string("video", None, "Video to take frames from.", required=True)
flags.DEFINE_string("output", None, "PNG to write.", required=True)
flags.DEFINE_integer("every", 25, "Frames between samples (Figure 6.4 uses 75: 3 s at 25 fps).")
flags.DEFINE_integer("count", 8, "Samples.")
flags.DEFINE_float("start", None, "Start time (s), e.g. the start of a long shot.")
flags.DEFINE_enum("layout", "rows", ["rows", "alternating"], "rows: film above, reconstruction below.")


def main(argv):
    del argv
    from vaegan_video import figures

    path, ratio = figures.comparison_figure(FLAGS.config, FLAGS.workdir, FLAGS.video, FLAGS.output,
                                            every=FLAGS.every, count=FLAGS.count, start=FLAGS.start,
                                            layout=FLAGS.layout)
    print(f"wrote {path}; temporal collapse ratio over the span {ratio:.3f} (1 = motion kept, 0 = collapsed)")


def run():
    cli.run(main)


if __name__ == "__main__":
    run()
