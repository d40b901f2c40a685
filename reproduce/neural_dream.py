"""Reproduces "Neural Dream Videos" as published beside our pipeline and writes docs/reproduction/neural_dream.md.

    python -m reproduce.neural_dream                          # both pipelines at the default budgets
    python -m reproduce.neural_dream --ours_vaegan_steps=4000  # later: resume and extend the same runs
    python -m reproduce.neural_dream --evaluate_only          # re-make the report from the runs
    python -m reproduce.neural_dream --preset=tiny --video=<clip> --runs=/tmp/r --docs=/tmp/d   # tests

Two pipelines, each trained on the first (1 - holdout) of the clip's frames; the rest is held out:
  seed  the author's notebook: `vae_mlp` (whole frames at 128x128, MLP 256-256, z of 64, no adversarial
        term) -> `juliani` (2 LSTM layers of 256, summed L2) -> decode; dreams fed back with uniform noise.
  ours  the VAE-GAN (`quick`, 80x48 16:9 crop, conv) -> the latent `default` (MDN-LSTM predicting the
        change of z) -> decode; dreams drawn at temperature 1.
Workdirs live in runs/reproduce_neural_dream/<pipeline>_{autoencoder,sequence} (git-ignored); a later run
resumes them up to the new budget. Per pipeline, on the held-out frames: next-latent error against
copy-last and linear extrapolation in its own latent space, the decoded next-frame PSNR, the
autoencoder's reconstruction, and dreams seeded at the first held-out frames (motion, jerk, collapse).
Figures (JPEG < 150 KB) go to docs/reproduction/neural_dream/. A "## What this shows" section already in
the report is kept when the tables are re-made. (The comparison of sequence models over mu and z that
bench/eval_dream_sequence.py used to make is in git history; this report is what replaced it.)
"""

import pathlib

import numpy as np
from absl import flags

from videocore import cli  # (importing it quietens TensorFlow's C++ start-up lines)

from reproduce import report as reports

PIPELINES = {
    "seed": "seed as published: vae_mlp VAE -> juliani LSTM",
    "ours": "ours: VAE-GAN (quick) -> MDN-LSTM (default)",
}
RESULTS_FILE = "reproduce_neural_dream.json"
KEPT_SECTION = "## What this shows"

FLAGS = flags.FLAGS
reports.define_run_flags("neural_dream")
flags.DEFINE_string("video", str(reports.SHARED_DATA / "one-by-one-person-detection.mp4"),
                    "The clip to train on and hold frames out of.")
flags.DEFINE_list("pipelines", list(PIPELINES), "Which pipelines: seed, ours.")
flags.DEFINE_float("holdout", 0.2, "Fraction of the clip's frames, at its end, never trained on.")
flags.DEFINE_integer("seed_vae_epochs", 100, "Epochs of the seed's VAE (the notebook: 100).")
flags.DEFINE_integer("seed_lstm_epochs", 150, "Epochs of the seed's LSTM (the notebook: 150).")
flags.DEFINE_integer("ours_vaegan_steps", 2000, "Steps of our VAE-GAN (quick preset: 100 epochs).")
flags.DEFINE_integer("ours_sequence_steps", 2000, "Steps of our sequence model (default preset: 20,000).")
flags.DEFINE_integer("dream_frames", 200, "Frames of the measured dreams (at most the held-out frames).")
flags.DEFINE_integer("long_dream_frames", 1000, "Frames of the long dreams (the notebook generates 1,000).")
flags.DEFINE_enum("preset", "full", ["full", "tiny"], "Model sizes: as named above, or tiny to test this script.")


# ----------------------------------------------------------------------------- configs


def autoencoder_config(key, train_end):
    """The autoencoder of pipeline `key`, trained on the clip up to `train_end` seconds."""
    from vaegan_video import configs

    tiny = FLAGS.preset == "tiny"
    if key == "seed":
        config = configs.vae_mlp_tiny() if tiny else configs.vae_mlp()
        epochs = FLAGS.seed_vae_epochs
        config.loop.num_epochs, config.loop.num_steps = epochs, 0
        # A plain VAE: eps ~ N(0, I) in every epoch. The table keeps the preset's 100 entries (or more) so
        # that a run resumed with another epoch budget restores the same checkpointed schedule.
        config.noise_schedule = (1.0,) * max(epochs, len(config.noise_schedule))
    else:
        config = configs.tiny() if tiny else configs.quick()
        config.loop.num_epochs, config.loop.num_steps = 0, FLAGS.ours_vaegan_steps
        config.eval.frames, config.loop.eval_every_steps = 0, 0  # the held-out frames are scored here instead
    config.data.videos = (FLAGS.video,)
    config.data.end = train_end
    config.data.cache_dir = FLAGS.cache_dir
    config.loop.checkpoint_every_steps = min(config.loop.checkpoint_every_steps, 500)
    config.loop.sample_every_steps = 0 if tiny else 500
    config.loop.log_every_steps = 1 if tiny else 10
    return config


def sequence_config(key, autoencoder_workdir):
    """The latent sequence model of pipeline `key` over the latents of `autoencoder_workdir`."""
    from vaegan_video.latent_dream import configs

    if key == "seed":
        config = configs.juliani()
        config.loop.num_epochs, config.loop.num_steps = FLAGS.seed_lstm_epochs, 0
    else:
        config = configs.default()
        config.loop.num_epochs, config.loop.num_steps = 0, FLAGS.ours_sequence_steps
    config.vaegan_workdir = str(autoencoder_workdir)
    config.data.videos = (FLAGS.video,)
    config.data.holdout_fraction = FLAGS.holdout
    config.loop.sample_every_steps = 0
    config.loop.log_every_steps = 1 if FLAGS.preset == "tiny" else 10
    config.loop.checkpoint_every_steps = min(config.loop.checkpoint_every_steps, 500)
    if FLAGS.preset == "tiny":
        config.model.units = 16
        config.model.num_mixtures = 2
        config.train.window = 4
        config.loop.batch_size = 2
        config.loop.guard.min_history = 1000
        config.data.encode_precision = "float32"
        config.dream.decode_precision = "float32"
    return config


def workdirs_of(key):
    runs = pathlib.Path(FLAGS.runs)
    return runs / f"{key}_autoencoder", runs / f"{key}_sequence"


# ----------------------------------------------------------------------------- evaluation


def trained_step(workdir):
    """The step of the newest checkpoint in `workdir`; 0 without one."""
    return reports.trained_steps(workdir)


def decode(codec, z, batch_size=64):
    return np.concatenate([codec.decode(z[i:i + batch_size]) for i in range(0, len(z), batch_size)])


def dream_latents(model, dream_config, mu, first, num_frames):
    """A dream of `num_frames` latents (N, D) seeded at frame `first` of `mu`, as the run's dream block says."""
    from vaegan_video.latent_dream import dream

    settings = dream.DreamSettings.from_config(dream_config, num_frames=num_frames)
    return np.concatenate(list(dream.rollout(dream.Dreamer(model), settings, mu, first))), settings


def shown_latents(model, sequence, settings, seed_latents, fed):
    """The latents a dream shows: with an L2 head and feedback noise, the noiseless predictions.

    The notebook decodes each prediction and feeds back the prediction plus noise; `dream.rollout`
    yields what it fed back. The L2 head is deterministic, so reading the fed-back sequence again
    after the seed latents (S, D) gives the predictions (N, D) exactly; other dreams are shown as fed.
    """
    import tensorflow as tf

    from vaegan_video.latent_dream import models

    if sequence.model.head != "l2" or not settings.noise:
        return fed
    inputs = np.concatenate([seed_latents, fed[:-1]]).astype(np.float32)[None]
    outputs = model([tf.constant(inputs), *models.zero_states(model, 1)], training=False)
    return models.expected_next(outputs).numpy()[0, len(seed_latents) - 1:]


def strip(rows, columns, scale):
    """Rows of frames (each (N, H, W, 3)) -> one image, `columns` frames each, enlarged `scale` times."""
    from PIL import Image

    from videocore import summaries

    grid = summaries.image_grid(np.concatenate([row[:columns] for row in rows]), columns=columns)
    if scale != 1:
        grid = np.asarray(Image.fromarray(grid).resize((grid.shape[1] * scale, grid.shape[0] * scale),
                                                        Image.NEAREST))
    return grid


def evaluate(key, autoencoder_workdir, sequence_workdir, figures):
    """The held-out figures of pipeline `key`'s newest checkpoints, its stills and its long dream video."""
    import tensorflow as tf

    from videocore import metrics
    from videocore import summaries
    from videocore import video
    from vaegan_video.latent_dream import evaluation
    from vaegan_video.latent_dream import latents
    from vaegan_video.latent_dream import models
    from vaegan_video.latent_dream import train as latent_train

    codec = latents.Codec(autoencoder_workdir)
    stream = latents.encode_video(autoencoder_workdir, FLAGS.video, codec=codec, progress=False)
    training, held = stream.split(FLAGS.holdout)
    mu, cut = stream.mu, len(training)
    model, sequence, _ = latent_train.restore_model(sequence_workdir)
    scored = latent_train.evaluate(model, [stream], FLAGS.holdout)
    trivial = evaluation.baselines(mu, cut)
    real = np.stack(list(video.read_frames(FLAGS.video, aspect=codec.aspect, size=codec.size)))
    if len(real) != len(mu):
        raise RuntimeError(f"{FLAGS.video}: {len(real)} frames read but {len(mu)} latents")
    reconstructed = decode(codec, mu[cut - 1:])  # frame cut - 1 too: the copy-last prediction of frame cut

    # The model's expected next latent for every held-out frame, decoded beside copy-last's.
    outputs = model([tf.constant(mu[None, :-1].astype(np.float32)), *models.zero_states(model, 1)], training=False)
    predicted = models.expected_next(outputs).numpy()[0, cut - 1:]  # (held, D): predictions of frames cut..N-1
    next_frames = {"model": metrics.psnr(decode(codec, predicted), real[cut:]),
                   "copy_last": metrics.psnr(reconstructed[:-1], real[cut:]),
                   "linear": metrics.psnr(decode(codec, 2 * mu[cut - 1:-1] - mu[cut - 2:-2]), real[cut:])}

    # A dream seeded with the first held-out frames, against the real frames that followed them.
    seed_frames = int(sequence.dream.seed_frames)
    count = min(FLAGS.dream_frames, len(held) - seed_frames)
    z, settings = dream_latents(model, sequence.dream, mu, cut, count)
    z = shown_latents(model, sequence, settings, mu[cut:cut + seed_frames], z)
    dreamed = decode(codec, z)
    span = slice(cut + seed_frames, cut + seed_frames + count)
    real_span, reconstructed_span = real[span], reconstructed[1:][seed_frames:seed_frames + count]
    scores = evaluation.dream_scores(dreamed, z, real_span, reconstructed_span, mu[span])

    # The notebook's length of dream from the same start: does it keep moving?
    long_z, _ = dream_latents(model, sequence.dream, mu, cut, FLAGS.long_dream_frames)
    long_z = shown_latents(model, sequence, settings, mu[cut:cut + seed_frames], long_z)
    long_dream = decode(codec, long_z)
    block = max(3, FLAGS.long_dream_frames // 10)
    held_out_motion = evaluation.motion(real[cut:])[0]
    blocks = [evaluation.motion(long_dream[i:i + block])[0] / held_out_motion
              for i in range(0, len(long_dream) - 2, block) if len(long_dream[i:i + block]) >= 3]
    with video.VideoWriter(pathlib.Path(sequence_workdir) / "long_dream.mp4", stream.fps) as writer:
        writer.write(long_dream)

    scale = max(1, round(160 / codec.size[0]))  # small frames shown larger (80x48 twice as large)
    every = max(1, count // 8)
    names = {
        "dream": summaries.save_jpeg(figures / f"{key}_dream.jpg",
                                     strip([real_span[::every], reconstructed_span[::every], dreamed[::every]],
                                           8, scale), reports.FIGURE_BYTES).name,
        "long_dream": summaries.save_jpeg(figures / f"{key}_long_dream.jpg",
                                          strip([long_dream[::max(1, len(long_dream) // 8)]], 8, scale),
                                          reports.FIGURE_BYTES).name,
    }
    return {
        "latent_dim": int(stream.latent_dim), "frame_size": list(codec.size), "aspect": codec.aspect,
        "frames": len(stream), "held_out": len(held), "fps": str(stream.fps),
        "latent_range": [float(mu.min()), float(mu.max())], "latent_spread": evaluation.spread(mu[cut:]),
        "model_mse": scored["mse"], "copy_last_mse": trivial["copy_last"], "linear_mse": trivial["linear"],
        "variance": trivial["variance"], "nll": scored.get("nll"), "next_frame_psnr": next_frames,
        "reconstruction_psnr": metrics.psnr(reconstructed[1:], real[cut:]),
        "reconstruction_collapse": metrics.temporal_collapse_ratio(reconstructed[1:], real[cut:]),
        "held_out_motion": held_out_motion, "real_motion": evaluation.motion(real_span)[0],
        "real_jerk": evaluation.motion(real_span)[1],
        "reconstruction_motion": evaluation.motion(reconstructed_span)[0],
        "dream": scores, "dream_count": count, "seed_frames": seed_frames, "every": every,
        "dream_settings": {"temperature": settings.temperature, "noise": settings.noise,
                           "feedback_noise": settings.feedback_noise, "latent_bound": settings.latent_bound},
        "long_dream_blocks": blocks, "long_dream_block": block, "long_dream_frames": len(long_dream),
        "figures": names,
    }


def budget(key, autoencoder_workdir, sequence_workdir, train_frames):
    """Steps trained, steps the published / preset budget takes on this clip, and median step times.

    train_frames: the frames both networks trained on (the autoencoder's span is the sequence's)."""
    from videocore import summaries
    from videocore import workdir as workdirs
    from vaegan_video.latent_dream import input_pipeline
    from vaegan_video.latent_dream import train as latent_train

    auto = workdirs.load_config(autoencoder_workdir, "vaegan")
    sequence, _ = latent_train.saved_run(sequence_workdir)
    auto_per_epoch = train_frames // int(auto["loop"]["batch_size"])
    layout = input_pipeline.Layout((train_frames,), lanes=int(sequence.loop.batch_size),
                                   window=int(sequence.train.window), shift_windows=bool(sequence.data.shift_windows))
    if key == "seed":  # the notebook's epochs
        published = (100 * auto_per_epoch, "100 epochs (the notebook)", 150 * layout.steps_per_epoch,
                     "150 epochs (the notebook)")
    else:  # the presets' own budgets
        published = (100 * auto_per_epoch, "100 epochs (`quick`)", 20_000, "20,000 steps (`default`)")
    return {"autoencoder_steps": trained_step(autoencoder_workdir), "autoencoder_full": published[0],
            "autoencoder_full_text": published[1], "autoencoder_per_epoch": auto_per_epoch,
            "sequence_steps": trained_step(sequence_workdir), "sequence_full": published[2],
            "sequence_full_text": published[3], "sequence_per_epoch": layout.steps_per_epoch,
            "autoencoder_step_time": summaries.median_step_time(autoencoder_workdir),
            "sequence_step_time": summaries.median_step_time(sequence_workdir), "train_frames": train_frames}


def results_path(key):
    return pathlib.Path(FLAGS.runs) / f"{key}_{RESULTS_FILE}"


def cached_results(key):
    """The results saved for pipeline `key` if they belong to its newest checkpoints and these flags."""
    return reports.load_results(results_path(key), identity(key))


def identity(key):
    autoencoder_workdir, sequence_workdir = workdirs_of(key)
    return {"autoencoder_step": trained_step(autoencoder_workdir), "sequence_step": trained_step(sequence_workdir),
            "video": FLAGS.video, "holdout": FLAGS.holdout, "dream_frames": FLAGS.dream_frames,
            "long_dream_frames": FLAGS.long_dream_frames}


def save_results(key, results):
    reports.save_results(results_path(key), identity(key), results)


# ----------------------------------------------------------------------------- the report


def _seconds(value):
    return "n/a" if value is None else f"{value:.3f}"


def report(rows, command, docs):
    """docs/neural_dream.md from [(key, results)], keeping a hand-written KEPT_SECTION already in it."""
    path = docs / "neural_dream.md"
    first = rows[0][1]
    lines = [
        "# Reproducing \"Neural Dream Videos\" (seed pipeline beside ours)",
        "",
        f"Clip: `{pathlib.Path(FLAGS.video).name}` ({first['frames']} frames at {first['fps']} fps); both pipelines "
        f"trained on its first {first['frames'] - first['held_out']} frames, every figure below taken on the held-out "
        f"last {first['held_out']} ({FLAGS.holdout:.0%}).",
        "",
        "Command (the same command with larger budgets resumes the runs in `runs/reproduce_neural_dream/`; "
        "`--evaluate_only` re-makes this report from them):",
        "",
        "```",
        command,
        "```",
        "",
        "## Budgets and step times",
        "",
        "Step time: median seconds per training step logged by the run on this machine (2 vCPU, float32), with "
        "other work running beside it: compare within this table only.",
        "",
        "| pipeline | network | trained steps | full budget on this clip | fraction | step time (s) |",
        "|---|---|---|---|---|---|",
    ]
    for key, results in rows:
        b = results["budget"]
        for part, name in (("autoencoder", "VAE (MLP)" if key == "seed" else "VAE-GAN (conv)"),
                           ("sequence", "LSTM 2x256, L2" if key == "seed" else "MDN-LSTM 512, K=5")):
            full = b[f"{part}_full"]
            lines.append(f"| {key} | {name} | {b[f'{part}_steps']:,} ({b[f'{part}_steps'] / b[f'{part}_per_epoch']:.1f} "
                         f"epochs) | {full:,} = {b[f'{part}_full_text']} | {b[f'{part}_steps'] / full:.0%} | "
                         f"{_seconds(b[f'{part}_step_time'])} |")
    lines += [
        "",
        "## Next-latent error on the held-out frames, baselines in the same table",
        "",
        "Mean squared error per latent dimension of the predicted next latent (the sequence model reads the "
        "real latents from the start of the clip; the state carries over), beside copying the last latent and "
        "extrapolating the last two linearly. **The absolute errors of the two pipelines are not comparable**: "
        "each is measured in its own latent space — the seed's VAE codes are unbounded and scaled by its KL "
        "term, the VAE-GAN's mu lies in [-1, 1] behind a tanh, they have different dimensions doing different "
        "amounts of work, and an encoder can shrink or stretch its codes without changing what they mean. "
        "Scale-free figures: the error over copy-last's error (< 1 beats copying), and over the variance of the "
        "held-out latents (the error of always predicting their mean). Decoded next-frame PSNR: the prediction "
        "decoded and compared with the real next frame, each pipeline at its own frame size "
        f"(seed {first_size(rows, 'seed')}, ours {first_size(rows, 'ours')}), so it also carries each "
        "decoder's own error.",
        "",
        "| pipeline | predictor | MSE / dim | / copy-last | / held-out variance | decoded next-frame PSNR (dB) |",
        "|---|---|---|---|---|---|",
    ]
    for key, r in rows:
        for name, value, psnr in (("copy the last latent", r["copy_last_mse"], r["next_frame_psnr"]["copy_last"]),
                                  ("linear extrapolation", r["linear_mse"], r["next_frame_psnr"]["linear"]),
                                  ("sequence model", r["model_mse"], r["next_frame_psnr"]["model"])):
            lines.append(f"| {key} | {name} | {value:.5f} | {value / r['copy_last_mse']:.3f} | "
                         f"{value / r['variance']:.3f} | {psnr:.2f} |")
    lines += ["", "Latent spaces: " + "; ".join(
        f"{key}: {r['latent_dim']}-d, mu over the clip in [{r['latent_range'][0]:.2f}, {r['latent_range'][1]:.2f}], "
        f"held-out spread (std over time, mean over dims) {r['latent_spread']:.4f}" for key, r in rows) + ".", ""]
    lines += [
        "## The autoencoders on the held-out frames",
        "",
        "| pipeline | frames | reconstruction PSNR (dB) | collapse ratio of the reconstruction |",
        "|---|---|---|---|",
    ]
    for key, r in rows:
        width, height = r["frame_size"]
        crop = f", {r['aspect']} crop" if r["aspect"] else ", whole frame squeezed"
        lines.append(f"| {key} | {width}x{height}{crop} | {r['reconstruction_psnr']:.2f} | "
                     f"{r['reconstruction_collapse']:.3f} |")
    lines += [
        "",
        "## Dreams",
        "",
        "Each dream is seeded with the pipeline's own number of real held-out latents (the notebook starts from "
        "one) and then fed its own predictions, with the run's dream settings; the seed's frames are decoded from "
        "its predictions, the noise only fed back, as in the notebook. Motion: mean absolute "
        "frame-to-frame change (0-255); jerk: mean absolute second difference; collapse ratio: the dream's motion "
        "over that of the real frames that followed the seed (and over their reconstructions): 0 = frozen, 1 = "
        "moves as much; z spread: the dream's latent spread over the real latents'. The late ratio is the last "
        "tenth of the long dream's motion over the real held-out motion.",
        "",
        "| pipeline | dream settings | frames | motion | jerk | collapse / real | collapse / reconstruction | "
        "z spread | late collapse / real |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, r in rows:
        d, s = r["dream"], r["dream_settings"]
        settings = (f"noise {s['noise']:g} ({s['feedback_noise']})" if s["noise"] else "no feedback noise") + (
            f", temperature {s['temperature']:g}" if key != "seed" else ", L2 prediction") + (
            f"; {r['seed_frames']} seed latent" + ("s" if r["seed_frames"] > 1 else ""))
        lines.append(f"| {key} (real frames) | — | {r['dream_count']} | {r['real_motion']:.2f} | "
                     f"{r['real_jerk']:.2f} | 1 | — | 1 | — |")
        lines.append(f"| {key} (reconstruction) | — | {r['dream_count']} | {r['reconstruction_motion']:.2f} | — | "
                     f"{r['reconstruction_motion'] / max(r['real_motion'], 1e-9):.3f} | 1 | — | — |")
        lines.append(f"| {key} dream | {settings} | {r['dream_count']} | {d['motion']:.2f} | {d['jerk']:.2f} | "
                     f"{d['collapse_vs_real']:.3f} | {d['collapse_vs_reconstruction']:.3f} | "
                     f"{d['z_spread_ratio']:.3f} | {r['long_dream_blocks'][-1]:.3f} |")
    lines += ["", "Motion of the long dreams, per block of frames, over the real held-out motion (the collapse "
              "ratio as the dream goes on):", ""]
    width = max(len(r["long_dream_blocks"]) for _, r in rows)
    lines += ["| pipeline | " + " | ".join(f"block {i + 1}" for i in range(width)) + " |",
              "|---|" + "---|" * width]
    for key, r in rows:
        lines.append(f"| {key} ({r['long_dream_frames']} frames, {r['long_dream_block']} per block) | "
                     + " | ".join(f"{v:.3f}" for v in r["long_dream_blocks"]) + " |")
    lines += [""]
    for key, r in rows:
        lines += [f"Stills, {PIPELINES[key]}: rows real | reconstructed | dreamed, every {r['every']} frames from "
                  "the first held-out frame after the seed:", "",
                  f"![{key} dream](neural_dream/{r['figures']['dream']})", "",
                  f"The {r['long_dream_frames']}-frame dream, every {max(1, r['long_dream_frames'] // 8)} frames:", "",
                  f"![{key} long dream](neural_dream/{r['figures']['long_dream']})", ""]
    return reports.write_report(path, lines, reports.kept_section(path, KEPT_SECTION))


def first_size(rows, key):
    found = [r["frame_size"] for k, r in rows if k == key]
    return f"{found[0][0]}x{found[0][1]}" if found else "n/a"


# ----------------------------------------------------------------------------- main


def main(argv):
    del argv
    from videocore import errors
    from videocore import video
    from vaegan_video import train
    from vaegan_video.latent_dream import train as latent_train

    cli.check_flags(choices=[("pipelines", PIPELINES)], fractions=["holdout"],
                    positive=["seed_vae_epochs", "seed_lstm_epochs", "ours_vaegan_steps", "ours_sequence_steps",
                              "dream_frames", "long_dream_frames"])
    info = video.probe(FLAGS.video)
    count = int(info.frame_count)
    cut = count - int(round(count * FLAGS.holdout))  # as the latent streams split (LatentSequence.split)
    train_end = (cut - 0.5) / float(info.fps)  # frames 0..cut-1: the autoencoders never see a held-out frame
    runs, docs = pathlib.Path(FLAGS.runs), pathlib.Path(FLAGS.docs)
    command = reports.command_line("neural_dream")
    for key in FLAGS.pipelines:
        autoencoder_workdir, sequence_workdir = workdirs_of(key)
        if not FLAGS.evaluate_only:
            for name, step in (("autoencoder", lambda: train.train_and_evaluate(
                    autoencoder_config(key, train_end), autoencoder_workdir, progress=False)),
                               ("sequence model", lambda: latent_train.train_and_evaluate(
                    sequence_config(key, autoencoder_workdir), sequence_workdir, progress=False))):
                print(f"({key}) training the {name}", flush=True)
                result = step()
                if result.stopped_by:  # a signal: stop here; the same command resumes every run
                    print(f"({key}) {name} stopped by {result.stopped_by} at step {result.step}; run the same "
                          "command to resume", flush=True)
                    return
        elif not (trained_step(autoencoder_workdir) and trained_step(sequence_workdir)):
            raise errors.CheckpointError(f"{runs}: no {key} runs to evaluate; train them first (without "
                                         "--evaluate_only)")
        results = cached_results(key)
        if results is None:
            results = evaluate(key, autoencoder_workdir, sequence_workdir, docs / "neural_dream")
            results["budget"] = budget(key, autoencoder_workdir, sequence_workdir,
                                       results["frames"] - results["held_out"])
            save_results(key, results)
        print(f"({key}) next-latent error / copy-last {results['model_mse'] / results['copy_last_mse']:.3f}, "
              f"dream collapse ratio {results['dream']['collapse_vs_real']:.3f}", flush=True)
        rows = [(other, cached_results(other)) for other in PIPELINES]
        rows = [(other, found) for other, found in rows if found is not None]
        print(f"wrote {report(rows, command.strip(), docs)}", flush=True)


if __name__ == "__main__":
    cli.run(main)
