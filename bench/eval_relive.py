"""Evaluates short relive trainings on real footage: per-frame FID of WGAN-GP clips, LSTM next-frame PSNR.

    python bench/eval_relive.py [--video=PATH] [--gan_steps=800] [--lstm_steps=3000] [--preset=demo]

The last 20 % of the video is held out. Figures:
1. FID of generated frames against held-out real frames, next to the FID of the training frames
   against the same held-out frames (what a perfect generator of the training footage would get)
   and of the generator before training.
2. Teacher-forced next-frame PSNR on every held-out clip, for the seed's predictor (frames
   deconvolved from the LSTM output) and the residual variant (predicts the change), against
   copying the last frame -- a predictor has to beat that to be worth anything.
Short trainings on a 2-core CPU: the figures say what minutes of training give, not what the
method can reach. Other processes on the machine slow it down, not the figures.
"""

import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from absl import flags  # noqa: E402

from videocore import cli  # noqa: E402  (before TensorFlow loads: it quiets TF's start-up chatter)

import numpy as np  # noqa: E402

from relive import configs  # noqa: E402
from relive import evaluate  # noqa: E402
from relive import inputs  # noqa: E402
from relive import sample  # noqa: E402
from relive import train  # noqa: E402
from videocore import data  # noqa: E402

FOOTAGE = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "one-by-one-person-detection.mp4"


def base_config(args, model, steps):
    config = configs.PRESETS[args.preset]()
    config.model = model
    config.data.source = str(args.video)
    config.data.holdout_fraction = 0.2
    config.loop.num_steps = steps
    config.loop.checkpoint_every_steps = steps
    config.loop.sample_every_steps = steps
    config.loop.histogram_every_steps = 0
    return config


def real_frames(config, stores, count, seed=0):
    """`count` random frames (uint8) of the stores."""
    frames = np.concatenate([np.asarray(store.frames) for store in stores])
    picks = np.random.default_rng(seed).choice(len(frames), size=min(count, len(frames)), replace=False)
    return frames[picks]


def evaluate_gan(args, workdir):
    config = base_config(args, "wgan", args.gan_steps)
    config.critic.penalty = "gradient"
    train_stores, held_out = inputs.frame_stores(config, progress=False)
    held_out_frames = real_frames(config, held_out, args.fid_frames, seed=1)
    train_frames = real_frames(config, train_stores, args.fid_frames, seed=2)
    clips_needed = -(-args.fid_frames // config.clip.num_frames)

    def generated_frames():
        generator = sample.load_networks(config, workdir)["generator"]
        clips = sample.generate(generator, sample.fixed_noise(config, clips_needed, seed=7))
        return data.to_uint8_numpy(clips).reshape((-1,) + clips.shape[2:])[:args.fid_frames]

    config.loop.num_steps = 1  # the generator after one step: a reference for "untrained"
    train.train_and_evaluate(config, workdir)
    untrained = evaluate.frame_fid(generated_frames()[None], held_out_frames[None])
    config.loop.num_steps = args.gan_steps
    start = time.time()
    result = train.train_and_evaluate(config, workdir)
    minutes = (time.time() - start) / 60
    trained = evaluate.frame_fid(generated_frames()[None], held_out_frames[None])
    reference = evaluate.frame_fid(train_frames[None], held_out_frames[None])
    return {
        "clip": f"{config.clip.num_frames}x{config.clip.frame_size}x{config.clip.frame_size}",
        "steps": result.step, "minutes": minutes, "fid_generated": trained,
        "fid_untrained": untrained, "fid_train_vs_held_out": reference, "samples": result.outputs}


def evaluate_predictor(args, workdir, residual):
    config = base_config(args, "predictor", args.lstm_steps)
    config.predictor.residual = residual
    config.eval.clips = 10**6  # every held-out clip
    start = time.time()
    result = train.train_and_evaluate(config, workdir)
    _, held_out = inputs.frame_stores(config, progress=False)
    clips = inputs.held_out_clips(config, held_out, 10**6)
    return {"clip": f"{config.clip.num_frames}x{config.clip.frame_size}x{config.clip.frame_size}",
            "steps": result.step, "minutes": (time.time() - start) / 60, "held_out_clips": len(clips),
            **result.evaluation, "samples": result.outputs}


FLAGS = flags.FLAGS
flags.DEFINE_string("video", str(FOOTAGE) if FOOTAGE.exists() else "bundled:bikes", "Footage.")
flags.DEFINE_enum("preset", "demo", sorted(configs.PRESETS), "relive/configs.py preset.")
flags.DEFINE_integer("gan_steps", 800, "WGAN-GP steps.")
flags.DEFINE_integer("lstm_steps", 3000, "LSTM predictor steps.")
flags.DEFINE_integer("fid_frames", 512, "Frames per FID.")
flags.DEFINE_string("workdir", None, "Keep the runs here (default: a temp dir).")
flags.DEFINE_string("only", "gan,lstm", "Any of gan, lstm.")


def main(argv):
    del argv
    args = FLAGS
    root = pathlib.Path(args.workdir or tempfile.mkdtemp(prefix="eval_relive_"))
    print(f"footage: {args.video}; preset {args.preset}; runs in {root}")
    results = {}
    if "gan" in args.only:
        results["wgan_gp"] = evaluate_gan(args, root / "wgan_gp")
    if "lstm" in args.only:
        results["lstm"] = evaluate_predictor(args, root / "lstm", residual=False)
        results["lstm_residual"] = evaluate_predictor(args, root / "lstm_residual", residual=True)
    print()
    for name, figures in results.items():
        print(name)
        for key, value in figures.items():
            print(f"  {key}: {value:.2f}" if isinstance(value, float) else f"  {key}: {value}")


if __name__ == "__main__":
    cli.run(main)
