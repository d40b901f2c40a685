"""Evaluation of the latent sequence model (neural dream videos): prediction error and how the dreams move.

    python bench/eval_dream_sequence.py [--video=PATH] [--workdir=DIR] [--vaegan_workdir=DIR] [--steps=1500]

1. A VAE-GAN (`quick` preset, --vaegan_steps steps) is trained on the video unless --vaegan_workdir
   is given; its encoder turns every frame into mu.
2. Sequence models train for the same number of steps on the first (1 - holdout) of the video:
   the blog's LSTM + L2 predicting z, a small LSTM + L2 predicting the change of z, and the
   mixture-density LSTM (K = 5) on mu and on z re-drawn from mu, sigma every epoch
   (z = mu + noise * sigma * eps; noise 0.01 and the VAE-GAN's own last sigma).
3. Next-latent error on the held-out last frames (mean squared error per latent dimension of the
   expected next latent), against copying the last latent and against linear extrapolation; for
   the MDNs also the negative log-likelihood per dimension, against copy-last with Gaussian
   noise fitted per dimension to the training frames' changes.
4. Dreams seeded with the first held-out frames, decoded, and measured against the VAE-GAN's
   reconstruction of the real frames that follow: motion (mean absolute frame-to-frame change,
   0-255 per pixel), jerk (mean absolute second difference: lower = smoother), the temporal
   collapse ratio (dream motion / real motion; 0 = frozen) and how much the latents still vary
   (std over time of the dream's z / that of the real z).
Stills (real | reconstructed | dreamed) go to docs/stills/. Timings are not measured here.
"""

import json
import pathlib
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from absl import flags  # noqa: E402

from videocore import cli  # noqa: E402  (before TensorFlow loads: it quiets TF's start-up chatter)

import numpy as np  # noqa: E402
import PIL.Image  # noqa: E402

from videocore import summaries  # noqa: E402
from videocore import video  # noqa: E402
from vaegan_video import configs  # noqa: E402
from vaegan_video.latent_dream import dream  # noqa: E402
from vaegan_video.latent_dream import evaluation  # noqa: E402
from vaegan_video.latent_dream import latents  # noqa: E402
from vaegan_video.latent_dream import configs as latent_configs  # noqa: E402
from vaegan_video.latent_dream import train as latent_train  # noqa: E402
from vaegan_video import train  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "one-by-one-person-detection.mp4"


def variants(decoder_noise):
    """(name, config, temperatures to dream at); every variant trains the same steps on the same lanes."""
    config = latent_configs.seed()
    config.model.units = 256
    yield "seed: LSTM-256 + L2, predicts z, z = mu", config, [0.0]
    config = latent_configs.seed()
    config.model.residual = True
    config.model.units = 64
    yield "LSTM-64 + L2, predicts the change of z", config, [0.0]
    config = latent_configs.default()
    config.model.units = 256
    config.data.z_noise = 0.0
    yield "MDN-LSTM-256 (K=5), change of z, z = mu", config, [0.0, 0.5, 1.0]
    for z_noise in (0.01, decoder_noise):
        config = latent_configs.default()
        config.model.units = 256
        config.data.z_noise = z_noise
        yield f"MDN-LSTM-256 (K=5), z re-drawn, noise {z_noise:g}", config, [0.5]


def train_vaegan(video_path, workdir, steps):
    config = configs.quick()
    config.data.videos = (str(video_path),)
    config.loop.num_steps, config.loop.num_epochs = steps, 0
    train.train_and_evaluate(config, workdir)
    return workdir


def save_strip(path, rows, every, columns=8, scale=2):
    picked = [row[::every][:columns] for row in rows]
    grid = summaries.image_grid(np.concatenate(picked), columns=columns)
    image = PIL.Image.fromarray(grid).resize((grid.shape[1] * scale, grid.shape[0] * scale), PIL.Image.NEAREST)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, quality=75)
    return path.stat().st_size


FLAGS = flags.FLAGS
flags.DEFINE_string("video", str(SHARED if SHARED.exists() else video.sample_clip("bikes")), "Footage.")
flags.DEFINE_string("workdir", None, "Keep the runs here (default: a temp dir).")
flags.DEFINE_string("vaegan_workdir", None, "A trained VAE-GAN run on --video.")
flags.DEFINE_integer("vaegan_steps", 2000, "VAE-GAN steps when it has to be trained first.")
flags.DEFINE_integer("steps", 400, "Sequence model steps per variant.")
flags.DEFINE_float("holdout", 0.2, "Held-out fraction of the footage.")
flags.DEFINE_integer("dream_frames", 200, "Frames per dream.")
flags.DEFINE_string("stills", str(REPO / "docs" / "stills"), "Where the stills strip goes.")


def main(argv):
    del argv
    args = FLAGS
    temp = tempfile.TemporaryDirectory()
    root = pathlib.Path(args.workdir or temp.name)
    vaegan_workdir = pathlib.Path(args.vaegan_workdir or root / "vaegan")
    if not tf_checkpoint_exists(vaegan_workdir):
        print(f"training the VAE-GAN (quick preset, {args.vaegan_steps} steps) on {args.video}")
        train_vaegan(args.video, vaegan_workdir, args.vaegan_steps)
    codec = latents.Codec(vaegan_workdir)
    stream = latents.encode_video(vaegan_workdir, args.video, codec=codec)
    training, held = stream.split(args.holdout)
    print(f"{args.video}: {len(stream)} frames at {stream.fps} fps, latent {stream.latent_dim}-d; "
          f"{len(training)} to train on, {len(held)} held out; decoder noise sigma {codec.noise}")
    mu = stream.mu
    cut = len(training)
    trivial = evaluation.baselines(mu, cut)
    copy_last, linear = trivial["copy_last"], trivial["linear"]
    count = min(args.dream_frames, len(held) - 8)
    real = np.stack(list(video.read_frames(args.video, aspect=codec.aspect, size=codec.size)))[cut + 8:cut + 8 + count]
    reconstructed = codec.decode(mu[cut + 8:cut + 8 + count])
    real_motion, real_jerk = evaluation.motion(real)
    recon_motion, recon_jerk = evaluation.motion(reconstructed)

    changes = np.diff(mu[:cut], axis=0)
    spread = changes.std(axis=0)
    standard = (mu[cut:] - mu[cut - 1:-1] - changes.mean(axis=0)) / spread
    copy_nll = float(np.mean(0.5 * standard ** 2 + np.log(spread) + 0.5 * np.log(2 * np.pi)))
    table = [("copy the last latent", {"mse": copy_last, "nll": copy_nll}), ("linear extrapolation", {"mse": linear})]
    dreams = []
    for name, config, temperatures in variants(codec.noise):
        config.vaegan_workdir = str(vaegan_workdir)
        config.data.videos = (args.video,)
        config.data.holdout_fraction = args.holdout
        config.train.window = 32
        config.loop.batch_size = 8
        config.loop.num_steps = args.steps
        config.loop.sample_every_steps = 0
        config.loop.log_every_steps = 100
        run = root / "sequence" / "".join(c if c.isalnum() or c in "-." else "_" for c in name)
        latent_train.train_and_evaluate(config, run, progress=False)
        figures = json.loads((run / latent_train.EVAL_FILE).read_text())
        table.append((name, figures))
        for temperature in temperatures:
            output = run / f"dream_t{temperature}.mp4"
            dream.dream_video(run, output, config=config, num_frames=count, temperature=temperature,
                              seed_start=cut / float(stream.fps), progress=False)
            frames = np.stack(list(video.read_frames(output)))
            dream_model, _, _ = latent_train.restore_model(run)
            z = dream_latents(dream_model, config, mu, cut, count, temperature)
            dreams.append((f"{name}, tau={temperature}", evaluation.dream_scores(
                frames, z, real, reconstructed, mu[cut + 8:cut + 8 + count]), frames))

    print(f"\nnext-latent error on {len(held)} held-out frames (mean squared error per dimension; lower is better)")
    for name, figures in table:
        extra = f"  ratio to copy-last {figures['mse'] / copy_last:.3f}" if name != "copy the last latent" else ""
        nll = f"  NLL {figures['nll']:.3f} nats/dim" if "nll" in figures else ""
        print(f"  {name:52s} {figures['mse']:.5f}{extra}{nll}")
    print(f"\ndreams of {count} frames seeded with the first 8 held-out frames "
          f"(real: motion {real_motion:.2f}, jerk {real_jerk:.2f}; VAE-GAN reconstruction: motion {recon_motion:.2f}, "
          f"jerk {recon_jerk:.2f})")
    print(f"  {'model':62s} {'motion':>7s} {'jerk':>6s} {'collapse/recon':>14s} {'collapse/real':>13s} "
          f"{'z spread':>8s}")
    for name, figures, _ in dreams:
        print(f"  {name:62s} {figures['motion']:7.2f} {figures['jerk']:6.2f} "
              f"{figures['collapse_vs_reconstruction']:14.3f} {figures['collapse_vs_real']:13.3f} "
              f"{figures['z_spread_ratio']:8.3f}")
    stills = pathlib.Path(args.stills)
    every = max(1, count // 8)
    chosen = [d for d in dreams if "z = mu, tau=1.0" in d[0]] or dreams[-1:]
    size = save_strip(stills / "dream_sequence.jpg", [real, reconstructed, chosen[0][2]], every)
    print(f"\nstills: {stills / 'dream_sequence.jpg'} ({size // 1024} KB): rows real | reconstructed | "
          f"{chosen[0][0]}, every {every} frames")
    temp.cleanup()


def dream_latents(model, config, mu, cut, count, temperature):
    settings = dream.DreamSettings.from_config(config.dream, num_frames=count, temperature=temperature)
    return np.concatenate(list(dream.rollout(dream.Dreamer(model), settings, mu, cut)))


def tf_checkpoint_exists(workdir):
    return (pathlib.Path(workdir) / "checkpoints" / "checkpoint").is_file()


if __name__ == "__main__":
    cli.run(main)
