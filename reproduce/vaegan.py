"""Reproduces "Autoencoding Video Frames" at a stated reduced scale and writes docs/reproduction/vaegan.md.

    python -m reproduce.vaegan --variants=a,d --train_only     # train two variants (resumable, 2 at a time)
    python -m reproduce.vaegan --evaluate_only                 # score every trained variant, rewrite the report
    python -m reproduce.vaegan --scale=tiny --steps=12 --clips=<clip> --unseen=<clip> --runs=/tmp/r --docs=/tmp/d

The scale: `dissertation_small` / `released_code_small` (vaegan_video/configs.py), the published
presets with two knobs changed, the frame size (144x80 for 256x144) and a width multiplier (0.4) on
every filter count. --scale=tiny is for the tests.

Footage (reproduce/footage.py film_mix): train on the room's first 80 %, 11 ASL clips and the first
80 % of the bundled bigbuckbunny / bikes / carphone; held out: the last 20 % of those four and the
4 validation ASL clips; unseen: walk.mkv, scored once at the end.

Variants, each --steps steps (the noise schedule's six "epochs" stretched over --schedule_steps):
  a  dissertation_small with its noise schedule (learned similarity);
  b  the same with a constant sigma 0.25;
  c  the same with pixel-wise MSE instead of the learned similarity;
  d  a plain VAE (no adversarial term, pixel similarity): Larsen et al.'s baseline;
  e  released_code_small;
  f  (a) with Larsen et al.'s equilibrium rule (not in the dissertation: its Dis saturates).
Run folders: runs/reproduce_vaegan/<variant> (git-ignored); the same command resumes them.
"""

import pathlib

import numpy as np
from absl import flags

from videocore import cli  # (importing it quietens TensorFlow's C++ start-up lines)

from reproduce import footage
from reproduce import report as reports

# key: (name, preset, overrides)
VARIANTS = {
    "a": ("dissertation: learned similarity, noise schedule", "dissertation_small", {}),
    "b": ("constant sigma 0.25", "dissertation_small", {"noise_schedule": (0.25,) * 6}),
    "c": ("pixel-wise MSE similarity", "dissertation_small", {"loss.similarity": "pixel"}),
    "d": ("plain VAE (pixel MSE, no GAN): Larsen et al.'s baseline", "dissertation_small",
          {"loss.adversarial": False, "loss.similarity": "pixel"}),
    "e": ("released code", "released_code_small", {}),
    "f": ("(a) + equilibrium rule (margin 0.35)", "dissertation_small", {"loss.equilibrium_margin": 0.35}),
}
SCHEDULE = (0.25, 0.25, 0.01, 0.01, 0.05, 0.05)  # the Blade Runner run's (5.1), the dissertation preset's

FLAGS = flags.FLAGS
reports.define_run_flags("vaegan")
flags.DEFINE_integer("steps", 6000, "Training steps per variant (the budget); a larger one resumes and extends.")
flags.DEFINE_integer("schedule_steps", 6000, "Steps the six noise-schedule entries are stretched over "
                     "(fixed per run: changing it changes what the run trained on).")
flags.DEFINE_list("variants", list(VARIANTS), "Which variants, of " + ", ".join(VARIANTS))
flags.DEFINE_enum("scale", "small", ["small", "tiny"], "small: the reduced-scale presets; tiny: test sizes.")
flags.DEFINE_list("clips", [], "Instead of the film mix: clips whose first 80 % trains and last 20 % is held out.")
flags.DEFINE_string("unseen", str(footage.TEST), "The clip never trained on, scored once at the end.")
flags.DEFINE_bool("train_only", False, "Train, then stop (evaluate later with --evaluate_only).")
flags.DEFINE_integer("eval_frames", 600, "At most this many frames per evaluated set (training span, held out).")


def spans():
    """[(path, start, end, role)] of the footage the flags name."""
    if not FLAGS.clips:
        return footage.film_mix()
    from videocore import video

    result = []
    for path in FLAGS.clips:
        cut = round(float(video.probe(path).duration) * (1 - footage.FILM_HOLDOUT), 3)
        result += [(path, None, cut, "train"), (path, cut, None, "held_out")]
    return result


def span_text(start, end):
    return f"{'' if start is None else start}:{'' if end is None else end}"


def variant_config(key):
    """The config of variant `key`: its preset at --scale, the footage, the stretched schedule, the overrides."""
    from vaegan_video import configs

    _, preset, overrides = VARIANTS[key]
    config = configs.get_config(preset)
    if FLAGS.scale == "tiny":
        tiny = configs.tiny()
        for field in ("height", "width", "filters", "latent_dim"):
            config.model[field] = tiny.model[field]
        config.loop.batch_size = tiny.loop.batch_size
    config.noise_schedule = SCHEDULE
    reports.apply_overrides(config, overrides)
    train = [(path, start, end) for path, start, end, role in spans() if role == "train"]
    config.data.videos = tuple(path for path, _, _ in train)
    config.data.spans = tuple(span_text(start, end) for _, start, end in train)
    config.data.cache_dir = FLAGS.cache_dir
    config.data.steps_per_epoch = max(1, FLAGS.schedule_steps // len(config.noise_schedule))
    config.loop.num_epochs, config.loop.num_steps = 0, FLAGS.steps
    config.loop.sample_every_steps = max(1, FLAGS.schedule_steps // 30)  # both the tenths and the "epochs"
    config.loop.checkpoint_every_steps = max(1, FLAGS.schedule_steps // 20)
    config.loop.checkpoint_every_minutes = 5.0
    config.loop.log_every_steps = max(1, min(10, FLAGS.schedule_steps // 100))
    config.loop.eval_every_steps = 0
    # The guard judges the reconstruction term only: the KL is tiny here (~0.003) and steps up 10x when the
    # schedule's sigma changes, which stopped the plain VAE's first run as "diverged" at step 2464.
    config.loop.guard.watch = ("like",)
    config.eval.frames = 0
    config.num_samples = 6
    return config


# ----------------------------------------------------------------------------- evaluation


def read_frames(path, start, end, size, aspect):
    """uint8 (N, H, W, 3) frames of `path` between `start` and `end` seconds at the model's size."""
    from videocore import data

    batches = data.ordered_batches(path, 64, "uint8", size=size, aspect=aspect, start=start, end=end)
    return np.concatenate([batch.numpy() for batch in batches])


def evaluation_sets(size, aspect):
    """({"train": [clip frames], "held_out": [...], "unseen": [...]}, the mean training frame): lists of
    (N, H, W, 3) uint8 arrays, each a run of consecutive frames from a clip's start (the collapse ratio
    needs them), at most --eval_frames per set; the mean over every training frame (H, W, 3) uint8."""
    sets = {"train": [], "held_out": [], "unseen": [read_frames(FLAGS.unseen, None, None, size, aspect)]}
    for path, start, end, role in spans():
        sets[role].append(read_frames(path, start, end, size, aspect))
    frames = sum(len(clip) for clip in sets["train"])
    mean_frame = np.round(sum(clip.astype(np.float64).sum(axis=0) for clip in sets["train"]) / frames)
    for role in ("train", "held_out"):
        total = sum(len(clip) for clip in sets[role])
        if total > FLAGS.eval_frames:  # the same share of every clip, from its start: runs stay consecutive
            share = FLAGS.eval_frames / total
            sets[role] = [clip[:max(2, int(len(clip) * share))] for clip in sets[role]]
    return sets, mean_frame.astype(np.uint8)


def sharpness(fake, real):
    """Per frame: mean gradient energy of `fake` over that of `real` (1 = as sharp, < 1 = blurred)."""
    def energy(frames):
        frames = frames.astype(np.float32).mean(axis=-1)
        dx, dy = np.diff(frames, axis=2), np.diff(frames, axis=1)
        return (dx[:, :-1, :] ** 2 + dy[:, :, :-1] ** 2).mean(axis=(1, 2))
    return energy(fake) / np.maximum(energy(real), 1e-6)


def per_frame_psnr(fake, real):
    error = ((fake.astype(np.float64) - real.astype(np.float64)) ** 2).mean(axis=(1, 2, 3))
    return 10 * np.log10(255.0 ** 2 / np.maximum(error, 1e-10))


def per_frame_ssim(fake, real):
    from videocore import metrics

    return np.array([metrics.ssim(f[None], r[None]) for f, r in zip(fake, real)])


def dis_per_tenth(workdir, steps):
    """Dis's mean output on x, x_bar and x_p averaged over each tenth of the run: [(end step, real, bar, p)]."""
    from videocore import summaries

    logs = summaries.read_back(pathlib.Path(workdir) / "tensorboard")
    if "losses/dis_real" not in logs:
        return []
    rows = []
    for tenth in range(10):
        low, high = tenth * steps / 10, (tenth + 1) * steps / 10
        means = [np.mean([float(v) for s, _, v in logs[f"losses/{name}"] if low < s <= high] or [np.nan])
                 for name in ("dis_real", "dis_fake", "dis_prior")]
        updated = [np.mean([float(v) for s, _, v in logs.get(f"losses/{name}_updated", []) if low < s <= high]
                           or [np.nan]) for name in ("discriminator", "decoder")]
        rows.append((int(high), *means, *updated))
    return rows



class Model:
    """A variant's trained encoder and decoder (or the untrained ones, `workdir` None) as uint8 functions."""

    def __init__(self, config, workdir=None):
        import keras

        from vaegan_video import models
        from vaegan_video import train
        from videocore import precision

        with precision.policy_scope(config.loop.precision):
            if workdir is None:
                keras.utils.set_random_seed(config.loop.seed)
                built = models.builders(config.model)
                self.networks = {name: built[name](config.model) for name in ("encoder", "decoder")}
            else:
                self.networks = train.restore_networks(config, workdir)[0]
        self.config = config

    def reconstruct(self, frames, batch_size=32):
        from videocore import data

        encoder, decoder = self.networks["encoder"], self.networks["decoder"]
        outputs = []
        for i in range(0, len(frames), batch_size):
            x = data.to_float(frames[i:i + batch_size], encoder.compute_dtype)
            outputs.append(data.to_uint8_numpy(decoder(encoder(x, training=False)[0], training=False)))
        return np.concatenate(outputs)

    def prior_samples(self, count, seed=1):
        """x_p: `count` frames decoded from the prior (normal, or uniform as the released code)."""
        from videocore import data

        rng = np.random.default_rng(seed)
        shape = (count, self.config.model.latent_dim)
        z = (rng.uniform(-1, 1, shape) if self.config.loss.get("prior", "normal") == "uniform"
             else rng.standard_normal(shape)).astype(np.float32)
        decoder = self.networks["decoder"]
        return np.concatenate([data.to_uint8_numpy(decoder(z[i:i + 32], training=False))
                               for i in range(0, count, 32)])


class RealFeatures:
    """Inception features of the real frames of each set, computed once for every FID against them."""

    def __init__(self, sets):
        from videocore import metrics

        self.features = {role: metrics.inception_features(np.concatenate(clips)) for role, clips in sets.items()}

    def fid(self, fake, role):
        from videocore import metrics

        return float(metrics.frechet_distance_of_features(metrics.inception_features(fake), self.features[role]))


def score_set(outputs, clips):
    """PSNR, SSIM, sharpness (each with a bootstrap 95 % interval over frames) and the collapse ratio."""
    from videocore import metrics

    fake, real = np.concatenate(outputs), np.concatenate(clips)
    values = {"psnr": per_frame_psnr(fake, real), "sharpness": sharpness(fake, real),
              "ssim": per_frame_ssim(fake, real) if min(real.shape[1:3]) > 10 else np.full(len(real), np.nan)}
    result = {"frames": len(real)}
    for name, per_frame in values.items():
        result[name] = float(np.mean(per_frame))
        result[f"{name}_interval"] = [float(v) for v in reports.bootstrap_interval(per_frame)]
    # Per clip (a cut between clips is not motion), weighted by the clip's frames.
    ratios = [(len(c), metrics.temporal_collapse_ratio(o, c)) for o, c in zip(outputs, clips) if len(c) > 2]
    result["collapse"] = float(sum(n * r for n, r in ratios) / max(1, sum(n for n, _ in ratios)))
    return result


def score_model(reconstruct, sets, real_features, prior=None):
    """{role: metrics} for a function frames -> reconstructions; FID of x_bar on held_out / unseen, of x_p."""
    results = {}
    for role, clips in sets.items():
        outputs = [reconstruct(clip) for clip in clips]
        results[role] = score_set(outputs, clips)
        if role != "train":
            results[role]["fid"] = real_features.fid(np.concatenate(outputs), role)
    if prior is not None:
        results["held_out"]["fid_prior"] = real_features.fid(prior, "held_out")
    return results


def train_variant(key):
    """Trains variant `key` up to --steps in its run folder; returns the signal that stopped it, or None."""
    from vaegan_video import train

    workdir = pathlib.Path(FLAGS.runs) / key
    print(f"({key}) {VARIANTS[key][0]}: training to step {FLAGS.steps} in {workdir}", flush=True)
    result = train.train_and_evaluate(variant_config(key), workdir, progress=False)
    if result.stopped_by:  # a signal: stop here, every run resumes from its checkpoint
        print(f"({key}) stopped by {result.stopped_by} at step {result.step}; run the same command to resume",
              flush=True)
    return result.stopped_by


def main(argv):
    del argv
    cli.check_flags(choices=[("variants", VARIANTS)], positive=["steps", "schedule_steps", "eval_frames"])
    if not FLAGS.evaluate_only:
        for key in FLAGS.variants:
            if train_variant(key):
                return
    if FLAGS.train_only:
        return
    evaluate_and_report()



# ----------------------------------------------------------------------------- report

RESULTS_FILE = "reproduction.json"
BASELINES = {"untrained": "the untrained network (variant a's initial weights)",
             "mean": "the mean training frame for every input"}


def identity(trained):
    """What a cached evaluation depends on besides its run: the checkpoint, the footage and the sampling."""
    return {"step": trained, "spans": [list(map(str, span)) for span in spans()], "unseen": FLAGS.unseen,
            "eval_frames": FLAGS.eval_frames, "scale": FLAGS.scale}


def picks(clips, count):
    """`count` (clip, frame) pairs spread over `clips`: a frame from each clip in turn, at spread positions."""
    pairs = []
    for i in range(count):
        clip = clips[i % len(clips)]
        pairs.append(clip[(i // len(clips) * 7 + len(clip) // 3) % len(clip)])
    return np.stack(pairs)


def comparison_figure(path, model, sets, columns=8):
    """Rows: training-span frames and their reconstructions, held-out, then the unseen clip (Figures 5.7-5.8, 6.4)."""
    from videocore import summaries

    rows = []
    for role in ("train", "held_out"):
        real = picks(sets[role], columns)
        rows += [real, model(real)]
    unseen = sets["unseen"][0]
    real = unseen[np.linspace(0, len(unseen) - 1, columns).astype(int)]
    rows += [real, model(real)]
    return reports.save_jpeg(path, summaries.image_grid(np.concatenate(rows), columns=columns))


def collapse_figure(path, model, clip, columns=8):
    """Figure 6.4: consecutive held-out frames of one shot (every few), film on top, reconstruction below."""
    from videocore import summaries

    every = max(1, min(5, (len(clip) - 1) // (columns - 1)))
    real = clip[np.arange(columns) * every % len(clip)]
    return reports.save_jpeg(path, summaries.image_grid(np.concatenate([real, model(real)]), columns=columns))


def schedule_figure(path, workdir, config):
    """Figures 5.1-5.6: the x / x_bar / x_p grids after each of the schedule's six "epochs", stacked."""
    from PIL import Image

    grids = [pathlib.Path(workdir) / "samples" / "x_xbar_xp" / f"{epoch * config.data.steps_per_epoch:08d}.png"
             for epoch in range(1, len(config.noise_schedule) + 1)]
    grids = [np.asarray(Image.open(grid))[..., :3] for grid in grids if grid.exists()]
    if not grids:
        return None
    return reports.save_jpeg(path, np.concatenate(grids))


def evaluate_variant(key, config, workdir, sets, real_features, figures):
    model = Model(config, workdir)
    results = score_model(model.reconstruct, sets, real_features, prior=model.prior_samples(FLAGS.eval_frames))
    names = {"comparison": comparison_figure(figures / f"{key}_real_vs_reconstructed.jpg", model.reconstruct, sets),
             "collapse": collapse_figure(figures / f"{key}_fig6_4.jpg", model.reconstruct, sets["held_out"][0])}
    schedule = schedule_figure(figures / f"{key}_fig5_1-6.jpg", workdir, config)
    if schedule is not None:
        names["schedule"] = schedule
    results["figures"] = {label: str(name) for label, name in names.items()}
    results["step_time"] = reports.step_time(workdir)
    results["dis"] = dis_per_tenth(workdir, reports.trained_steps(workdir))
    return results


def evaluate_and_report():
    from videocore import errors

    runs, docs = pathlib.Path(FLAGS.runs), pathlib.Path(FLAGS.docs)
    figures = docs / "vaegan"
    trained = {key: reports.trained_steps(runs / key) for key in FLAGS.variants
               if (runs / key / "checkpoints").is_dir()}
    if not trained:
        raise errors.CheckpointError(f"{runs}: no trained variant to evaluate; train first (without --evaluate_only)")
    config = variant_config("a")
    aspect = config.data.aspect or None
    size = (config.model.width, config.model.height)
    sets, mean_frame = evaluation_sets(size, aspect)
    real_features = None
    results = {}
    for key in [*BASELINES, *trained]:
        workdir = runs / (key if key in VARIANTS else "a")
        step = trained[key] if key in VARIANTS else 0
        cached = reports.load_results(runs / f"{key}.{RESULTS_FILE}", identity(step))
        if cached is None:
            real_features = real_features or RealFeatures(sets)
            print(f"evaluating {key} (step {step})", flush=True)
            if key == "mean":
                cached = score_model(lambda frames: np.repeat(mean_frame[None], len(frames), 0), sets, real_features)
            elif key == "untrained":
                model = Model(config)
                cached = score_model(model.reconstruct, sets, real_features,
                                     prior=model.prior_samples(FLAGS.eval_frames))
            else:
                cached = evaluate_variant(key, variant_config(key), workdir, sets, real_features, figures)
            reports.save_results(runs / f"{key}.{RESULTS_FILE}", identity(step), cached)
        results[key] = cached
    path = write(results, trained, sets)
    print(f"wrote {path}", flush=True)



def _cell(result, name, digits):
    value = result.get(name)
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "n/a"
    interval = result.get(f"{name}_interval")
    return reports.with_interval(value, interval, digits) if interval else f"{value:.{digits}f}"


def results_table(results, role, names):
    header = ["", "frames", "PSNR (dB)", "SSIM", "sharpness", "collapse ratio", "FID x_bar"]
    if role == "held_out":
        header.append("FID x_p")
    rows = []
    for key, result in results.items():
        r = result[role]
        row = [names[key], str(r["frames"]), _cell(r, "psnr", 2), _cell(r, "ssim", 3), _cell(r, "sharpness", 2),
               f"{r['collapse']:.2f}", f"{r['fid']:.0f}" if "fid" in r else "-"]
        if role == "held_out":
            row.append(f"{r['fid_prior']:.0f}" if "fid_prior" in r else "-")
        rows.append(row)
    return reports.table(header, rows)


def write(results, trained, sets):
    """docs/reproduction/vaegan.md from the cached results of the baselines and every trained variant."""
    from vaegan_video import configs
    from vaegan_video import plan

    docs = pathlib.Path(FLAGS.docs)
    published, small = configs.dissertation(), variant_config("a")
    ratio = plan.step_flops(small) / plan.step_flops(published)
    names = {key: f"baseline: {text}" for key, text in BASELINES.items()}
    names.update({key: f"({key}) {VARIANTS[key][0]}" for key in trained})
    train_spans = [(p, a, b) for p, a, b, role in spans() if role == "train"]
    held_spans = [(p, a, b) for p, a, b, role in spans() if role == "held_out"]
    describe = lambda items: "; ".join(f"{pathlib.Path(p).name} [{span_text(a, b) if (a, b) != (None, None) else 'whole'}]"  # noqa: E731
                                       for p, a, b in items)
    lines = [
        "# Reproducing \"Autoencoding Video Frames\" (VAE-GAN) at a reduced scale",
        "",
        f"> **Not a full-size result.** Every trained number here is from `{VARIANTS['a'][1]}` / `released_code_small`: "
        f"{small.model.width}x{small.model.height} frames, filters {tuple(small.model.filters)}, "
        f"{ratio:.3f} of a published step's FLOPs (1/{1 / ratio:.0f}).",
        "",
        "## The scale rule",
        "",
        "Two knobs differ from the published presets (`vaegan_video/configs.py: scaled`); everything else (latent "
        f"{small.model.latent_dim}, gamma {small.loss.gamma}, Adam {small.optimizer.learning_rate:g} / beta1 "
        f"{small.optimizer.beta_1}, batch {small.loop.batch_size}, BNorm, the losses, the schedule's shape) is as published.",
        "",
        *reports.table(["knob", "published", "here"], [
            ["frame size", f"{published.model.width}x{published.model.height}",
             f"{small.model.width}x{small.model.height} (four stride-2 layers exact: "
             f"{small.model.width // 16}x{small.model.height // 16} at the bottleneck)"],
            ["filters", str(tuple(published.model.filters)),
             f"{tuple(small.model.filters)} (x{small.model.filters[-1] / published.model.filters[-1]:g})"],
            ["GFLOP per training step (analytic)", f"{plan.step_flops(published) / 1e9:,.0f}",
             f"{plan.step_flops(small) / 1e9:,.1f} (ratio {ratio:.3f})"],
        ]),
        "",
        "## Footage, split by clip",
        "",
        f"- Training: {describe(train_spans)}.",
        f"- Held out (every choice is made here and on the training span): {describe(held_spans)}.",
        f"- Unseen clip, never trained on and scored once at the end: {pathlib.Path(FLAGS.unseen).name}.",
        f"- Each evaluated set is at most {FLAGS.eval_frames} frames: the same leading share of every clip, so each "
        "clip's frames stay consecutive for the collapse ratio.",
        "",
        "## Budget",
        "",
        *reports.table(["variant", "steps trained", "run's median step (s)"], [
            [names[key], str(steps), "n/a" if results[key].get("step_time") is None
             else f"{results[key]['step_time']:.2f}"] for key, steps in trained.items()]),
        "",
        f"Budget: {', '.join(f'{steps} steps per variant' for steps in sorted(set(trained.values())))}. "
        "The noise schedule's six \"epochs\" are stretched over "
        f"{FLAGS.schedule_steps} steps ({max(1, FLAGS.schedule_steps // 6)} steps per sigma of "
        f"{SCHEDULE}). Step times are the runs' own logs, two runs sharing the 2 cores (quiet figures in the "
        "notes below). The checkpoint scored is each run's last, fixed before any scoring.",
        "",
        "Command (resumes the runs in `runs/reproduce_vaegan/`):",
        "",
        "```",
        "python -m reproduce.vaegan --variants=a,d --train_only   # two at a time on 2 cores",
        reports.command_line("vaegan", prefix=["--evaluate_only"]),
        "```",
        "",
        "PSNR, SSIM and sharpness (mean gradient energy of x_bar over that of x: 1 = as sharp as the footage) are "
        "means over frames with a bootstrap 95 % interval over frames. Collapse ratio: the reconstructions' frame-to-"
        "frame change over the footage's, per clip (1 = motion kept, 0 = frozen; the dissertation's 6.1). FID: "
        "Inception pool features against the same set's real frames (counts in the frames column; the unseen clip's "
        "few frames bias it upwards); FID x_p: frames decoded from the prior against the held-out frames.",
        "",
        "### Held-out spans and clips",
        "",
        *results_table(results, "held_out", names),
        "",
        "### Training span",
        "",
        *results_table(results, "train", names),
        "",
        "### Unseen clip (scored once, after every choice)",
        "",
        *results_table(results, "unseen", names),
        "",
        "## The discriminator over each run",
        "",
        "Dis's mean output on real frames D(x), reconstructions D(x_bar) and prior samples D(x_p), averaged over "
        "each tenth of the run (the logged steps).",
        "",
    ]
    for key in trained:
        dis = results[key].get("dis") or []
        if not dis:
            continue
        dis = [row for row in dis if not np.isnan(row[1])]  # a tenth without a logged step (short runs)
        ruled = any(not np.isnan(row[4]) for row in dis)  # the equilibrium rule's share of updates
        rows = [[str(end), *(f"{v:.3g}" for v in values[:3]), *(f"{v:.0%}" for v in values[3:] if ruled)]
                for end, *values in dis]
        header = ["up to step", "D(x)", "D(x_bar)", "D(x_p)"] + (["Dis updated", "Dec updated"] if ruled else [])
        lines += [f"**({key}) {VARIANTS[key][0]}**", "", *reports.table(header, rows), ""]
    lines += ["## Figures", ""]
    for key in trained:
        figures = results[key].get("figures", {})
        lines += [f"### ({key}) {VARIANTS[key][0]}", ""]
        if "schedule" in figures:
            lines += ["Figures 5.1-5.6: after each of the schedule's six \"epochs\" (top to bottom), rows x, x_bar, "
                      "x_p of the same training frames and prior draws:", "",
                      f"![{key} 5.1-5.6](vaegan/{pathlib.Path(figures['schedule']).name})", ""]
        lines += ["Figures 5.7-5.8 and the unseen clip: pairs of rows, real above reconstructed: training span, "
                  "held out, walk.mkv:", "", f"![{key} real vs reconstructed](vaegan/{pathlib.Path(figures['comparison']).name})",
                  "", "Figure 6.4 style: held-out frames of the room, film on top, reconstruction below:", "",
                  f"![{key} 6.4](vaegan/{pathlib.Path(figures['collapse']).name})", ""]
    lines += [
        "## The published size",
        "",
        "`python -m run_scripts.vaegan_train --config=vaegan_video/configs.py:blade_runner "
        "--config.data.videos=film.mkv --workdir=runs/blade_runner`: "
        f"{plan.step_flops(published) / 1e9:,.0f} GFLOP a step, batch 12 at 256x144; six epochs of a feature film are "
        "~78,600 steps. Its step time here is in the notes below.",
        "",
    ]
    path = docs / "vaegan.md"
    budgets = [f"{steps} steps per variant" for steps in sorted(set(trained.values()))]
    return reports.write_report(path, lines, reports.kept_section(path, CLAIMS_HEADING, CLAIMS_TEMPLATE, budgets))


CLAIMS_HEADING = "## Which of the dissertation's claims hold, and notes"
CLAIMS_TEMPLATE = [
    "| claim | verdict | the number and the figure behind it |", "|---|---|---|",
    "| 4.3.3 learned similarity is sharper than pixel MSE (a vs c) | _to be written_ | |",
    "| 4.5.1 the noise schedule beats a constant sigma (a vs b) | _to be written_ | |",
    "| 6.1 collapsing representations | _to be written_ | |",
    "| 6.2 stabilisation | _to be written_ | |",
    "| released code vs text (e vs a) | _to be written_ | |"]


if __name__ == "__main__":
    cli.run(main)
