"""Evaluation: learned similarity vs pixel MSE, and the noise schedule vs none, on the same data and steps.

    python bench/eval_vaegan.py [--video=PATH] [--steps=1000]

Each variant trains the `quick` preset from scratch for the same number of steps on the same
frames with the same seed, then reconstructs the video in order; prints the FID of the
reconstructions against the originals (Inception pool features, lower is better), PSNR, and the
temporal collapse ratio (1 = the output moves as much as the input, 0 = frozen: the
dissertation's "collapsing representations").
"""

import pathlib
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from absl import flags  # noqa: E402

from videocore import cli  # noqa: E402  (before TensorFlow loads: it quiets TF's start-up chatter)

import numpy as np  # noqa: E402

from videocore import metrics  # noqa: E402
from videocore import video  # noqa: E402
from vaegan_video import configs  # noqa: E402
from vaegan_video import figures  # noqa: E402
from vaegan_video import train  # noqa: E402

SHARED = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "one-by-one-person-detection.mp4"


def variants():
    yield "learned similarity + schedule", {}
    yield "pixel MSE + schedule", {"loss.similarity": "pixel"}
    yield "learned similarity, constant noise 0.25", {"noise_schedule": (0.25,)}


FLAGS = flags.FLAGS
flags.DEFINE_string("video", str(SHARED if SHARED.exists() else video.sample_clip("bikes")), "Footage.")
flags.DEFINE_integer("steps", 1000, "Training steps per variant.")
flags.DEFINE_integer("max_frames", 600, "Frames of the video used (train and test).")


def main(argv):
    del argv
    args = FLAGS
    info = video.probe(args.video)
    end = min(info.duration, args.max_frames / float(info.fps))
    print(f"{args.video}: {info.width}x{info.height}, using {min(info.frame_count, args.max_frames)} frames; "
          f"{args.steps} steps per variant")
    rows = []
    with tempfile.TemporaryDirectory() as root:
        root = pathlib.Path(root)
        for name, overrides in variants():
            config = configs.quick()
            config.data.videos = (args.video,)
            config.data.end = end
            config.data.cache_dir = str(root / "cache")
            config.loop.num_steps, config.loop.num_epochs = args.steps, 0
            config.loop.sample_every_steps = 0
            steps_per_epoch = int(min(info.frame_count, args.max_frames)) // config.loop.batch_size
            if "noise_schedule" not in overrides:
                # The quick schedule stretched over the same number of steps.
                epochs = max(1, args.steps // max(1, steps_per_epoch) + 1)
                quarter = max(1, epochs // 4 + 1)
                config.noise_schedule = (0.25,) * quarter + (0.1,) * quarter + (0.05,) * quarter + (0.01,) * quarter
            for key, value in overrides.items():
                target = config
                *parents, leaf = key.split(".")
                for parent in parents:
                    target = target[parent]
                target[leaf] = value
            workdir = root / name.replace(" ", "_").replace(",", "")
            train.train_and_evaluate(config, workdir, progress=False)
            originals, outputs = figures.reconstruct_pairs(config, workdir, args.video, 0.0, end)
            rows.append((name, metrics.fid(outputs, originals), metrics.psnr(outputs, originals),
                         metrics.temporal_collapse_ratio(outputs, originals)))
            print(f"  {name}: FID {rows[-1][1]:.1f}, PSNR {rows[-1][2]:.2f} dB, collapse ratio {rows[-1][3]:.3f}",
                  flush=True)
    print("\n| variant | FID (lower better) | PSNR dB | temporal collapse ratio (1 = motion kept) |")
    print("|---|---|---|---|")
    for name, fid, psnr, ratio in rows:
        print(f"| {name} | {fid:.1f} | {psnr:.2f} | {ratio:.3f} |")


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    cli.run(main)
