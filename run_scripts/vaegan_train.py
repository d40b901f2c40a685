"""Trains the VAE-GAN on one or more films; resumes automatically from --workdir.

    python -m run_scripts.vaegan_train --config=vaegan_video/configs.py:blade_runner \
        --video=blade_runner.mkv --workdir=runs/br --config.data.start=180 --config.data.end=6900
Watch it with `tensorboard --logdir runs/br/tensorboard`.
The default is the published model (`dissertation`, 256x144: hours per epoch of a film on a CPU);
`--config=vaegan_video/configs.py:quick` (80x48) or `:tiny` train in minutes. The size, steps per
epoch and the time per step, per epoch and in all are printed before training starts: measured, by a
few timed steps the first time a model runs on a machine (cached under ~/.cache/neural_video/steps).
"""

from absl import flags

from videocore import cli

FLAGS = flags.FLAGS
cli.config_flag("vaegan_video/configs.py:dissertation", "Preset file:name, e.g. vaegan_video/configs.py:quick.")
flags.DEFINE_string("workdir", None, "Checkpoints, TensorBoard logs and samples go here.", required=True)
flags.DEFINE_list("video", [], "Video(s) to train on (sets config.data.videos).")


def main(argv):
    del argv
    from vaegan_video import plan  # after flag parsing: TensorFlow starts only for real work
    from vaegan_video import train
    from videocore import distribute
    from videocore import machine
    from videocore import precision

    config = FLAGS.config
    if FLAGS.video:
        config.data.videos = tuple(FLAGS.video)
    strategy = distribute.start(config.loop)  # before the estimate's timed steps: TensorFlow's first ops
    stores = train.load_stores(config)
    measured = plan.calibrate(config, strategy)
    peak = machine.cached_peak(precision.choose_policy(config.loop.precision))  # `make bench` measures it
    print(plan.describe(config, stores, measured, peak and peak.flops_per_second), flush=True)
    result = train.train_and_evaluate(config, FLAGS.workdir)
    print(f"stopped at step {result.step} (epoch {result.position.epoch}); checkpoint {result.checkpoint}")


def run():
    cli.run(main)


if __name__ == "__main__":
    run()
