"""Reproduces "Neural Dream Videos" as published beside our pipeline and writes docs/reproduction/neural_dream.md.

    python -m reproduce.neural_dream                                  # both pipelines at the seed's full budget
    python -m reproduce.neural_dream --pipelines=seed                 # one pipeline (two may run side by side)
    python -m reproduce.neural_dream --evaluate_only                  # re-make the report from the runs
    python -m reproduce.neural_dream --preset=tiny --train=<clip> --validation=<clip> --test=<clip> \
        --runs=/tmp/r --docs=/tmp/d                                    # tests

Two pipelines, trained on whole clips (reproduce/footage.py: 11 ASL clips and the room clip) and judged
on others (4 ASL validation clips; walk.mkv, the test clip):
  seed  the author's notebook: `vae_mlp` (whole frames squeezed to 128x128, MLP 256-256, z of 64, no
        adversarial term) for 100 epochs -> `juliani` (2 LSTM layers of 256, summed L2) for 150 epochs ->
        decode; dreams fed back with uniform noise.
  ours  the VAE-GAN (`quick`, 80x48 16:9 crop, conv) -> the latent `default` (MDN-LSTM predicting the change
        of z) -> decode; dreams drawn at temperature 1.
On every window of every validation and test clip (the model reads the real latents up to frame t, then
rolls out from its own expected predictions), PSNR and SSIM at 1, 5 and 10 steps of each pipeline's
decoded prediction beside copying the last frame, extrapolating the last two frames linearly, and copying
the last latent (decoded); each with a 95 % moving-block bootstrap interval over windows. Dreams seeded
on each validation clip are checked for memorisation (distance to the nearest training frame), diversity
(5 dreams from the same seed) and collapse (motion against the real frames that followed the seed).
Runs live in runs/reproduce_neural_dream/ (git-ignored) and resume; each pipeline's evaluation is cached
beside its runs. Figures (JPEG < 150 KB) go to docs/reproduction/neural_dream/. The hand-written
"## What this shows" section is kept when the report is re-made.
"""

import pathlib

import numpy as np
from absl import flags

from videocore import cli  # (importing it quietens TensorFlow's C++ start-up lines)

from reproduce import footage
from reproduce import report as reports

PIPELINES = {
    "seed": "seed as published: vae_mlp VAE -> juliani LSTM",
    "ours": "ours: VAE-GAN (quick) -> MDN-LSTM (default)",
}
RESULTS_FILE = "reproduce_neural_dream.json"
KEPT_SECTION = "## What this shows"
HORIZONS = (1, 5, 10)
NN_SIZE = (32, 32)  # frames are compared with the training frames at this size (area-resized), per value 0-255
WINDOW_BLOCK = 10  # windows per bootstrap block: neighbouring windows share frames

FLAGS = flags.FLAGS
reports.define_run_flags("neural_dream")
flags.DEFINE_list("train", footage.train_clips(), "Clips both pipelines train on (whole).")
flags.DEFINE_list("validation", footage.validation_clips(), "Clips every figure is chosen on.")
flags.DEFINE_list("test", footage.test_clips(), "Clips scored once, at the end.")
flags.DEFINE_list("pipelines", list(PIPELINES), "Which pipelines: seed, ours.")
flags.DEFINE_integer("seed_vae_epochs", 100, "Epochs of the seed's VAE (the notebook: 100).")
flags.DEFINE_integer("seed_lstm_epochs", 150, "Epochs of the seed's LSTM (the notebook: 150).")
flags.DEFINE_integer("ours_vaegan_steps", 4000, "Steps of our VAE-GAN (quick preset).")
flags.DEFINE_integer("ours_sequence_steps", 5000, "Steps of our sequence model (default preset: 20,000).")
flags.DEFINE_integer("dreams", 5, "Dreams per seed, for the diversity check.")
flags.DEFINE_integer("long_dream_frames", 1000, "Frames of the long dream (the notebook generates 1,000).")
flags.DEFINE_integer("max_windows", 0, "Windows scored per clip, evenly spread (0: every window).")
flags.DEFINE_enum("preset", "full", ["full", "tiny"], "Model sizes: as named above, or tiny to test this script.")


# ----------------------------------------------------------------------------- configs


def autoencoder_config(key):
    """The autoencoder of pipeline `key`, trained on every frame of the training clips."""
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
        config.eval.frames, config.loop.eval_every_steps = 0, 0  # judged here, on other clips
    config.data.videos = tuple(FLAGS.train)
    config.data.cache_dir = FLAGS.cache_dir
    config.loop.checkpoint_every_steps = min(config.loop.checkpoint_every_steps, 500)
    config.loop.checkpoint_every_minutes = 5.0
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
    config.data.videos = tuple(FLAGS.train)
    config.data.cache_dir = FLAGS.cache_dir
    config.data.holdout_fraction = 0.0  # judged here, on other clips
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


# ----------------------------------------------------------------------------- predictions on held-out clips


def read_clip(codec, path):
    """(frames uint8 (N, H, W, 3) at the codec's size and crop, mu (N, D)) of one clip."""
    from videocore import video
    from vaegan_video.latent_dream import latents

    real = np.stack(list(video.read_frames(path, aspect=codec.aspect, size=codec.size)))
    mu = latents.encode_video(codec.workdir, path, codec=codec, cache_dir=FLAGS.cache_dir or None, progress=False).mu
    if len(real) != len(mu):
        raise RuntimeError(f"{path}: {len(real)} frames read but {len(mu)} latents")
    return real, mu


def rollouts(model, mu, starts, horizon):
    """The model's expected latents (W, horizon, D) after reading mu[:t + 1] for every t in `starts`.

    One pass over the clip keeps the state after each frame; the roll-outs from all windows then run
    as one batch, each step fed the previous step's expected latent (no sampling, no noise)."""
    import tensorflow as tf

    from vaegan_video.latent_dream import models

    states, firsts = [], []
    state = models.zero_states(model, 1)
    wanted = set(int(t) for t in starts)
    for t in range(max(wanted) + 1):
        outputs = model([tf.constant(mu[None, t:t + 1].astype(np.float32)), *state], training=False)
        state = outputs["states"]
        if t in wanted:
            states.append(state)
            firsts.append(models.expected_next(outputs)[:, -1])
    state = [tf.concat(parts, 0) for parts in zip(*states)]
    z = tf.concat(firsts, 0)  # (W, D)
    steps = [z]
    for _ in range(horizon - 1):
        outputs = model([z[:, None], *state], training=False)
        state, z = outputs["states"], models.expected_next(outputs)[:, -1]
        steps.append(z)
    return tf.stack(steps, 1).numpy()


def frame_scores(predicted, truth):
    """Per-frame PSNR (dB) and SSIM of uint8 frames (N, H, W, 3) against `truth`."""
    import tensorflow as tf

    error = np.mean((predicted.astype(np.float64) - truth.astype(np.float64)) ** 2, axis=(1, 2, 3))
    psnr = 10 * np.log10(255.0 ** 2 / np.maximum(error, 1e-10))
    ssim = tf.image.ssim(tf.constant(predicted), tf.constant(truth), 255).numpy()
    return psnr, ssim


def prediction_scores(codec, model, path):
    """{method: {"psnr_k": (W,), "ssim_k": (W,)}} over the windows of one clip."""
    real, mu = read_clip(codec, path)
    last = max(HORIZONS)
    starts = np.arange(1, len(real) - last)  # two frames known (linear needs them), then `last` to predict
    if FLAGS.max_windows and len(starts) > FLAGS.max_windows:
        starts = starts[np.linspace(0, len(starts) - 1, FLAGS.max_windows).round().astype(int)]
    predicted = rollouts(model, mu, starts, last)  # (W, last, D)
    copy_latent = codec.decode(mu[starts])
    scores = {}
    for k in HORIZONS:
        truth = real[starts + k]
        linear = np.clip(real[starts].astype(np.float64) * (1 + k) - k * real[starts - 1].astype(np.float64), 0, 255)
        guesses = {"copy_frame": real[starts], "linear_frame": linear.round().astype(np.uint8),
                   "copy_latent": copy_latent, "model": codec.decode(predicted[:, k - 1]),
                   "reconstruction": codec.decode(mu[starts + k])}
        for method, guess in guesses.items():
            psnr, ssim = frame_scores(guess, truth)
            scores.setdefault(method, {})[f"psnr_{k}"] = psnr
            scores[method][f"ssim_{k}"] = ssim
    return scores


def summarise(per_clip):
    """Pools the windows of several clips: {method: {measure: [mean, low, high]}}."""
    methods = per_clip[0].keys()
    pooled = {}
    for method in methods:
        pooled[method] = {}
        for measure in per_clip[0][method]:
            values = np.concatenate([clip[method][measure] for clip in per_clip])
            pooled[method][measure] = [float(values.mean()),
                                       *reports.bootstrap_interval(values, block=WINDOW_BLOCK)]
        pooled[method]["windows"] = int(sum(len(clip[method]["psnr_1"]) for clip in per_clip))
    return pooled


# ----------------------------------------------------------------------------- dreams


def dream(model, dream_config, mu, num_frames, seed):
    """A dream of `num_frames` latents (N, D) seeded at the start of `mu`, as the run's dream block says."""
    from vaegan_video.latent_dream import dream as dreams

    settings = dreams.DreamSettings.from_config(dream_config, num_frames=num_frames, seed=seed)
    return np.concatenate(list(dreams.rollout(dreams.Dreamer(model), settings, mu, 0))), settings


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


def small(frames):
    """Frames (N, H, W, 3) uint8 -> (N, NN_SIZE values) float32, area-resized, for nearest-neighbour distances."""
    import cv2

    return np.stack([cv2.resize(frame, NN_SIZE, interpolation=cv2.INTER_AREA) for frame in frames]).reshape(
        len(frames), -1).astype(np.float32)


def nearest_distances(frames, training):
    """RMS distance (0-255 per value) of every frame to its nearest training frame; both from `small`."""
    squared = (np.square(frames).sum(1)[:, None] - 2 * frames @ training.T + np.square(training).sum(1)[None])
    return np.sqrt(np.maximum(squared.min(1), 0) / frames.shape[1])


def pairwise_spread(clips):
    """Mean RMS distance (0-255) between every two of `clips` (each (T, H, W, 3)) at the same frame index."""
    length = min(len(clip) for clip in clips)
    values = [np.sqrt(np.mean((a[:length].astype(np.float64) - b[:length].astype(np.float64)) ** 2))
              for i, a in enumerate(clips) for b in clips[i + 1:]]
    return float(np.mean(values))


def strip(rows, columns, scale):
    """Rows of frames (each (N, H, W, 3)) -> one image, `columns` frames each, enlarged `scale` times."""
    from PIL import Image

    from videocore import summaries

    grid = summaries.image_grid(np.concatenate([row[:columns] for row in rows]), columns=columns)
    if scale != 1:
        grid = np.asarray(Image.fromarray(grid).resize((grid.shape[1] * scale, grid.shape[0] * scale),
                                                        Image.NEAREST))
    return grid


def dream_checks(key, codec, model, sequence, figures):
    """Memorisation, diversity and collapse of dreams seeded on each validation clip; the figures."""
    from videocore import video
    from vaegan_video.latent_dream import evaluation

    training = small(np.concatenate([np.stack(list(video.read_frames(path, aspect=codec.aspect, size=codec.size)))
                                     for path in FLAGS.train]))
    seed_frames = int(sequence.dream.seed_frames)
    nearest = {"dream": [], "held_out": [], "reconstruction": []}
    spreads, collapses, motions, real_clips = [], [], [], []
    shown = None
    for path in FLAGS.validation:
        real, mu = read_clip(codec, path)
        count = len(real) - seed_frames
        if count < 3:
            continue
        follow = slice(seed_frames, seed_frames + count)
        reconstructed = codec.decode(mu[follow])
        dreams = []
        for index in range(FLAGS.dreams):
            z, settings = dream(model, sequence.dream, mu, count, index)
            z = shown_latents(model, sequence, settings, mu[:seed_frames], z)
            dreams.append(codec.decode(z))
        scores = evaluation.dream_scores(dreams[0], z, real[follow], reconstructed, mu[follow])
        collapses.append(scores["collapse_vs_real"])
        motions.append(scores["motion"])
        spreads.append(pairwise_spread(dreams))
        real_clips.append(real)
        nearest["dream"].append(nearest_distances(small(np.concatenate(dreams)), training))
        nearest["held_out"].append(nearest_distances(small(real[follow]), training))
        nearest["reconstruction"].append(nearest_distances(small(reconstructed), training))
        if shown is None:
            every = max(1, count // 8)
            shown = (pathlib.Path(path).stem, every, [real[follow][::every], reconstructed[::every],
                                                      dreams[0][::every], dreams[1 % len(dreams)][::every]])
    scale = max(1, round(160 / codec.size[0]))  # small frames shown larger (80x48 twice as large)
    names = {"dream": reports.save_jpeg(figures / f"{key}_dream.jpg", strip(shown[2], 8, scale)).name}

    # The notebook's length of dream from the first validation clip's seed: does it keep moving?
    real, mu = read_clip(codec, FLAGS.validation[0])
    long_z, settings = dream(model, sequence.dream, mu, FLAGS.long_dream_frames, 0)
    long_dream = codec.decode(shown_latents(model, sequence, settings, mu[:seed_frames], long_z))
    block = max(3, FLAGS.long_dream_frames // 10)
    real_motion = evaluation.motion(real)[0]
    blocks = [evaluation.motion(long_dream[i:i + block])[0] / real_motion
              for i in range(0, len(long_dream) - 2, block) if len(long_dream[i:i + block]) >= 3]
    names["long_dream"] = reports.save_jpeg(figures / f"{key}_long_dream.jpg",
                                            strip([long_dream[::max(1, len(long_dream) // 8)]], 8, scale)).name
    distances = {name: np.concatenate(values) for name, values in nearest.items()}
    return {
        "nearest": {name: [float(np.median(values)), *reports.bootstrap_interval(values, statistic=np.median)]
                    for name, values in distances.items()},
        "dream_spread": float(np.mean(spreads)), "real_spread": pairwise_spread(real_clips),
        "collapse": [float(np.mean(collapses)), *reports.bootstrap_interval(collapses)],
        "dream_motion": float(np.mean(motions)), "seed_frames": seed_frames, "dreams": FLAGS.dreams,
        "settings": {"temperature": settings.temperature, "noise": settings.noise,
                     "feedback_noise": settings.feedback_noise},
        "long_dream_blocks": blocks, "long_dream_block": block, "long_dream_frames": len(long_dream),
        "figures": names, "shown_clip": shown[0], "every": shown[1],
    }


# ----------------------------------------------------------------------------- evaluation and cache


def evaluate(key, autoencoder_workdir, sequence_workdir, figures):
    from vaegan_video.latent_dream import latents
    from vaegan_video.latent_dream import train as latent_train

    codec = latents.Codec(autoencoder_workdir)
    model, sequence, _ = latent_train.restore_model(sequence_workdir)
    results = {"frame_size": list(codec.size), "aspect": codec.aspect, "latent_dim": int(codec.latent_dim)}
    for split, paths in (("validation", FLAGS.validation), ("test", FLAGS.test)):
        results[split] = summarise([prediction_scores(codec, model, path) for path in paths])
        print(f"({key}) {split}: PSNR@5 model {results[split]['model']['psnr_5'][0]:.2f} dB, copy-last frame "
              f"{results[split]['copy_frame']['psnr_5'][0]:.2f} dB", flush=True)
    results["dreams"] = dream_checks(key, codec, model, sequence, figures)
    return results


def budget(key, autoencoder_workdir, sequence_workdir):
    """Steps trained, the steps of the published / preset budget on these clips, and median step times."""
    from videocore import video
    from videocore import workdir as workdirs
    from vaegan_video.latent_dream import input_pipeline
    from vaegan_video.latent_dream import train as latent_train

    auto = workdirs.load_config(autoencoder_workdir, "vaegan")
    counts = [int(video.probe(path).frame_count) for path in FLAGS.train]
    sequence, _ = latent_train.saved_run(sequence_workdir)
    auto_per_epoch = sum(counts) // int(auto["loop"]["batch_size"])
    layout = input_pipeline.Layout(tuple(counts), lanes=int(sequence.loop.batch_size),
                                   window=int(sequence.train.window), shift_windows=bool(sequence.data.shift_windows))
    if key == "seed":  # the notebook's epochs
        published = (100 * auto_per_epoch, "100 epochs (the notebook)", 150 * layout.steps_per_epoch,
                     "150 epochs (the notebook)")
    else:  # the presets' own budgets
        published = (100 * auto_per_epoch, "100 epochs (`quick`)", 20_000, "20,000 steps (`default`)")
    return {"autoencoder_steps": reports.trained_steps(autoencoder_workdir), "autoencoder_full": published[0],
            "autoencoder_full_text": published[1], "autoencoder_per_epoch": auto_per_epoch,
            "sequence_steps": reports.trained_steps(sequence_workdir), "sequence_full": published[2],
            "sequence_full_text": published[3], "sequence_per_epoch": layout.steps_per_epoch,
            "autoencoder_step_time": reports.step_time(autoencoder_workdir),
            "sequence_step_time": reports.step_time(sequence_workdir), "train_frames": sum(counts)}


def results_path(key):
    return pathlib.Path(FLAGS.runs) / f"{key}_{RESULTS_FILE}"


def identity(key):
    autoencoder_workdir, sequence_workdir = workdirs_of(key)
    return {"autoencoder_step": reports.trained_steps(autoencoder_workdir),
            "sequence_step": reports.trained_steps(sequence_workdir), "train": list(FLAGS.train),
            "validation": list(FLAGS.validation), "test": list(FLAGS.test), "dreams": FLAGS.dreams,
            "long_dream_frames": FLAGS.long_dream_frames, "max_windows": FLAGS.max_windows}


# ----------------------------------------------------------------------------- the report


def _seconds(value):
    return "n/a" if value is None else f"{value:.3f}"


METHODS = (("copy_frame", "copy the last frame"), ("linear_frame", "linear extrapolation of the last two frames"),
           ("copy_latent", "copy the last latent, decoded"), ("model", "**the pipeline's prediction, decoded**"),
           ("reconstruction", "(ceiling) the true next frame through the autoencoder"))


def prediction_table(rows, split, measure, digits):
    header = ["pipeline", "predictor"] + [f"{measure.upper()} @{k}" for k in HORIZONS]
    body = []
    for key, results in rows:
        scores = results[split]
        for method, name in METHODS:
            body.append([key, name] + [reports.with_interval(scores[method][f"{measure}_{k}"][0],
                                                             scores[method][f"{measure}_{k}"][1:], digits)
                                       for k in HORIZONS])
    return reports.table(header, body)


CLAIMS = [
    "- The seed: a VAE over frames plus an LSTM over its codes captures the footage's spatial properties "
    "(frames that look like it): _to be written from the reconstruction ceiling and the strips_.",
    "- ... and its temporal properties (the next frame follows from the last ones): _to be written from the "
    "prediction tables against copy-last and linear_.",
    "- Fed its own output, it generates endless new variations: _to be written from the dream checks "
    "(memorisation, diversity, collapse) and the long dream_."]


def report(rows, command, docs):
    """docs/neural_dream.md from [(key, results)], keeping a hand-written KEPT_SECTION already in it."""
    path = docs / "neural_dream.md"
    lines = [
        "# Reproducing \"Neural Dream Videos\" (seed pipeline beside ours)",
        "",
        f"Footage, split by whole clip (`reproduce/footage.py`): trained on {footage.names(FLAGS.train)}; "
        f"validation {footage.names(FLAGS.validation)}; test {footage.names(FLAGS.test)}, scored once at the end "
        "with the settings as published (nothing was tuned: each pipeline runs its preset).",
        "",
        "Command (the same command resumes the runs in `runs/reproduce_neural_dream/`; `--evaluate_only` re-makes "
        "this report from them):",
        "",
        "```",
        command,
        "```",
        "",
        "## Budgets and step times",
        "",
        "Step time: median seconds per training step logged by the run on this machine, with other work running "
        "beside it: compare within this table only.",
        "",
    ]
    body = []
    for key, results in rows:
        b = results["budget"]
        for part, name in (("autoencoder", "VAE (MLP)" if key == "seed" else "VAE-GAN (conv)"),
                           ("sequence", "LSTM 2x256, L2" if key == "seed" else "MDN-LSTM 512, K=5")):
            full = b[f"{part}_full"]
            body.append([key, name, f"{b[f'{part}_steps']:,} ({b[f'{part}_steps'] / b[f'{part}_per_epoch']:.1f} "
                         "epochs)", f"{full:,} = {b[f'{part}_full_text']}", f"{b[f'{part}_steps'] / full:.0%}",
                         _seconds(b[f"{part}_step_time"])])
    lines += reports.table(["pipeline", "network", "trained steps", "full budget on these clips", "fraction",
                            "step time (s)"], body)
    sizes = "; ".join(f"{key} {r['frame_size'][0]}x{r['frame_size'][1]}"
                      + (f" ({r['aspect']} crop)" if r["aspect"] else " (whole frame squeezed)") for key, r in rows)
    for split in ("validation", "test"):
        windows = ", ".join(f"{key} {r[split]['model']['windows']}" for key, r in rows)
        lines += ["", f"## Next frames on the {split} clips", "",
                  f"Every window of every {split} clip (windows: {windows}): the frames up to t are given (the "
                  "sequence model reads their latents from the clip's start), then frames t+1, t+5 and t+10 are "
                  "predicted, the model feeding back its own expected latents. Mean PSNR (dB) and SSIM over "
                  f"windows, [95 % interval] from a moving-block bootstrap ({WINDOW_BLOCK} windows a block). "
                  f"Each pipeline at its own frame size ({sizes}): compare rows within a pipeline. The last row "
                  "is the autoencoder's own error on the true frame, the best a decoded prediction can do.",
                  "", *prediction_table(rows, split, "psnr", 2), "", *prediction_table(rows, split, "ssim", 3)]
    lines += ["", "## Dreams", "",
              "Seeded with the real latents of the first frames of each validation clip (the run's own number of "
              "seed frames), then fed their own output with the run's dream settings. **Memorisation**: the RMS "
              f"distance (0-255) of each frame, area-resized to {NN_SIZE[0]}x{NN_SIZE[1]}, to its nearest training "
              "frame; a dream that replays training footage scores near 0, and real held-out frames show what new "
              "footage scores (median [95 % interval]). **Diversity**: the mean RMS distance between the dreams "
              "from the same seed, frame by frame, beside the same distance between different real validation "
              "clips. **Collapse**: the dream's motion over the real frames' that followed the seed (0 = frozen, "
              "1 = moves as much).", ""]
    body = []
    for key, r in rows:
        d = r["dreams"]
        settings = (f"noise {d['settings']['noise']:g} ({d['settings']['feedback_noise']})" if d["settings"]["noise"]
                    else "no feedback noise") + (f", temperature {d['settings']['temperature']:g}"
                                                  if key != "seed" else ", L2 prediction")
        nearest = {name: reports.with_interval(values[0], values[1:], 1) for name, values in d["nearest"].items()}
        body.append([key, settings, nearest["dream"], nearest["held_out"], nearest["reconstruction"],
                     f"{d['dream_spread']:.1f} ({d['dreams']} dreams)", f"{d['real_spread']:.1f}",
                     reports.with_interval(d["collapse"][0], d["collapse"][1:], 3)])
    lines += reports.table(["pipeline", "dream settings", "nearest training frame: dreams",
                            "... held-out real frames", "... their reconstructions", "spread between dreams",
                            "between real clips", "collapse ratio"], body)
    lines += ["", "Motion of the long dreams, per block of frames, over the real validation clip's motion (the "
              "collapse ratio as the dream goes on):", ""]
    width = max(len(r["dreams"]["long_dream_blocks"]) for _, r in rows)
    lines += reports.table(["pipeline"] + [f"block {i + 1}" for i in range(width)],
                           [[f"{key} ({r['dreams']['long_dream_frames']} frames, {r['dreams']['long_dream_block']} "
                             "per block)"] + [f"{v:.3f}" for v in r["dreams"]["long_dream_blocks"]]
                            for key, r in rows])
    lines += [""]
    for key, r in rows:
        d = r["dreams"]
        lines += [f"Strips, {PIPELINES[key]}, validation clip `{d['shown_clip']}`: rows real | reconstructed | "
                  f"dream 1 | dream 2, every {d['every']} frames after the seed:", "",
                  f"![{key} dream](neural_dream/{d['figures']['dream']})", "",
                  f"The {d['long_dream_frames']}-frame dream, every {max(1, d['long_dream_frames'] // 8)} frames:", "",
                  f"![{key} long dream](neural_dream/{d['figures']['long_dream']})", ""]
    return reports.write_report(path, lines, reports.kept_section(path, KEPT_SECTION, CLAIMS))


# ----------------------------------------------------------------------------- main


def main(argv):
    del argv
    from videocore import errors
    from vaegan_video import train
    from vaegan_video.latent_dream import train as latent_train

    cli.check_flags(choices=[("pipelines", PIPELINES)],
                    positive=["seed_vae_epochs", "seed_lstm_epochs", "ours_vaegan_steps", "ours_sequence_steps",
                              "dreams", "long_dream_frames"])
    overlap = set(FLAGS.train) & (set(FLAGS.validation) | set(FLAGS.test))
    if overlap:
        raise errors.ConfigError(f"--train shares {', '.join(sorted(overlap))} with --validation or --test: "
                                 "split by whole clip")
    runs, docs = pathlib.Path(FLAGS.runs), pathlib.Path(FLAGS.docs)
    command = reports.command_line("neural_dream")
    for key in FLAGS.pipelines:
        autoencoder_workdir, sequence_workdir = workdirs_of(key)
        if not FLAGS.evaluate_only:
            for name, step in (("autoencoder", lambda: train.train_and_evaluate(
                    autoencoder_config(key), autoencoder_workdir, progress=False)),
                               ("sequence model", lambda: latent_train.train_and_evaluate(
                    sequence_config(key, autoencoder_workdir), sequence_workdir, progress=False))):
                print(f"({key}) training the {name}", flush=True)
                result = step()
                if result.stopped_by:  # a signal: stop here; the same command resumes every run
                    print(f"({key}) {name} stopped by {result.stopped_by} at step {result.step}; run the same "
                          "command to resume", flush=True)
                    return
        elif not (reports.trained_steps(autoencoder_workdir) and reports.trained_steps(sequence_workdir)):
            raise errors.CheckpointError(f"{runs}: no {key} runs to evaluate; train them first (without "
                                         "--evaluate_only)")
        results = reports.load_results(results_path(key), identity(key))
        if results is None:
            results = evaluate(key, autoencoder_workdir, sequence_workdir, docs / "neural_dream")
            results["budget"] = budget(key, autoencoder_workdir, sequence_workdir)
            reports.save_results(results_path(key), identity(key), results)
        rows = [(other, reports.load_results(results_path(other), identity(other))) for other in PIPELINES]
        rows = [(other, found) for other, found in rows if found is not None]
        print(f"wrote {report(rows, command, docs)}", flush=True)


if __name__ == "__main__":
    cli.run(main)
