"""Reproduces (Re)Live Photos' GANs on real human motion and writes docs/reproduction/relive.md.

    python -m reproduce.relive --time_sizes                    # quiet step times: which clip size fits 1.5 s
    python -m reproduce.relive --variants=b --steps=2000       # train (or resume) one variant
    python -m reproduce.relive --evaluate_only                 # score every run and re-make the report
    python -m reproduce.relive --config=relive/configs.py:quick --size=8x16x16 --steps=4 --runs=/tmp/r --docs=/tmp/d

Footage (reproduce/footage.py), split by whole clip: the 11 training ASL clips train, the 4 validation
ASL clips are what the runs are watched on (FID every --eval_every steps), and every figure of the
report is measured on --clips windows evenly spread over the validation clips and walk.mkv, none
ever trained on. Variants, at the papers' settings:
  a  WGAN with weight clipping (the seed: critic with batch norm, RMSProp 5e-5, c = 0.01);
  b  WGAN-GP (lambda 10, no critic batch norm, Adam 1e-4, beta (0, 0.9));
  c  conditional WGAN-GP given the middle frame (the poster's architecture).
Sizes: the seed's networks with every width times --multiplier, at clips of --size; a clip smaller than
the seed's 32x64x64 has fewer stride-2 layers (the finest-scale one of each network is left out).
Workdirs live in runs/reproduce_relive/<variant> (git-ignored): a later run resumes them up to the
new step count. Each variant's evaluation is cached beside its run (reproduction.json) and redone
only when the checkpoint changed. Figures (PNG or JPEG < 150 KB) go to docs/reproduction/relive/.
Hand-written text between the report's HAND_WRITTEN markers survives a rewrite; the predictor
table of docs/reproduction/relive_predictor_table.md (reproduce/relive_predictor.py) is copied in.
"""

import json
import math
import pathlib
import tempfile
import time

import numpy as np
from absl import flags

from videocore import cli  # (importing it quietens TensorFlow's C++ start-up lines)

from reproduce import footage
from reproduce import report as reports

VARIANTS = {
    "a": ("WGAN, weight clipping (the seed)", {"model": "wgan", "critic.penalty": "clip"}),
    "b": ("WGAN-GP", {"model": "wgan", "critic.penalty": "gradient"}),
    "c": ("conditional WGAN-GP, middle frame", {"model": "conditional", "critic.penalty": "gradient",
                                                "clip.condition_frame": "middle"}),
}
SIZES = ("16x32x32", "32x32x32", "16x64x64", "32x64x64")  # --time_sizes: frames x height x width
RESULTS_FILE = "reproduction.json"
REFERENCE_FILE = "reference.npz"
TIMES_FILE = "step_times.json"
COMMAND_FILE = "command.txt"  # in a variant's run: the command that trained it last
NOTES_HEADING = "## What this shows and what it does not"
NOISE_SEED = 7  # of the noise behind every evaluated clip (the sample grids use config.sample.seed)
DRAWS = 5  # noise draws per photo for the conditional model's best-of-5

FLAGS = flags.FLAGS
reports.define_run_flags("relive")
cli.config_flag("relive/configs.py:seed", "Optimizers, kernel sizes and the widths --multiplier scales.")
flags.DEFINE_list("train", footage.train_clips(with_room=False), "Training videos (default: the 11 ASL "
                  "training clips).")
flags.DEFINE_list("validation", footage.validation_clips(), "Validation videos, held out whole (default: 4 ASL clips).")
flags.DEFINE_list("test", footage.test_clips(), "Test videos, held out whole (default: walk.mkv).")
flags.DEFINE_string("size", "16x64x64", "Clip frames x height x width (the seed's is 32x64x64; 16x64x64 is the largest whose "
                    "quiet step fits 1.5 s on the 2-core machines at --multiplier=0.125).")
flags.DEFINE_float("multiplier", 0.125, "Every width of the seed's networks times this.")
flags.DEFINE_integer("steps", 2000, "Generator steps per variant (each with critic.steps critic updates).")
flags.DEFINE_list("variant_steps", [], "Per-variant step counts overriding --steps, e.g. a=1200,c=600.")
flags.DEFINE_list("variants", ["a", "b", "c"], "Which variants: a (clip), b (GP), c (conditional GP).")
flags.DEFINE_integer("eval_every", 250, "Validation FID (and the Wasserstein estimate beside it) every this many steps.")
flags.DEFINE_integer("eval_frames", 256, "Validation frames (and as many generated) of that FID.")
flags.DEFINE_integer("clips", 32, "Held-out windows (and generated clips) every report figure is measured on.")
flags.DEFINE_bool("train_only", False, "Train (or resume) the variants and stop; --evaluate_only scores them.")
flags.DEFINE_bool("time_sizes", False, "Time a few generator steps of every variant at each of SIZES (run it "
                  "on a quiet machine), save them in --runs and stop.")


def variant_steps():
    """{variant: steps} from --steps and --variant_steps."""
    from videocore import errors

    steps = {key: FLAGS.steps for key in VARIANTS}
    for item in FLAGS.variant_steps:
        key, _, value = item.partition("=")
        if key not in VARIANTS or not value.isdigit() or int(value) < 1:
            raise errors.ConfigError(f"--variant_steps: {item!r} is not <variant>=<steps> with a variant of a, b, c")
        steps[key] = int(value)
    return steps


def parse_size(size):
    """"16x32x32" -> (16, 32); ConfigError unless frames x side x side."""
    from videocore import errors

    parts = size.split("x")
    if len(parts) != 3 or not all(part.isdigit() for part in parts) or parts[1] != parts[2]:
        raise errors.ConfigError(f"--size={size!r} is not <frames>x<side>x<side>, e.g. 16x32x32")
    return int(parts[0]), int(parts[1])


def scaled(config, size, multiplier):
    """`config` (the seed's networks) at clips of `size` with every width times `multiplier`.

    The seed doubles a 2x4x4 code four times to 32x64x64; a 32x32 clip has one doubling less, so each
    network loses its finest-scale layer (the generator's last, the critic's and encoder's first) and
    keeps the coarse widths; the code has frames / 2**doublings frames.
    """
    from relive import configs
    from videocore import errors

    frames, side = parse_size(size)
    seed = configs.seed()
    doublings = round(math.log2(side / seed.generator.latent_shape[1]))
    latent_frames = frames / 2 ** doublings
    if 2 ** doublings * seed.generator.latent_shape[1] != side or latent_frames != int(latent_frames) or \
            not 2 <= doublings <= len(seed.critic.filters):
        raise errors.ConfigError(f"--size={size}: the side must be 4 x 2**n (n 2..4) and the frames a multiple of "
                                 f"2**n")
    dropped = len(seed.critic.filters) - doublings

    def widths(values):
        return tuple(max(1, round(value * multiplier)) for value in values)

    config.clip.num_frames, config.clip.frame_size = frames, side
    config.generator.latent_shape = (int(latent_frames),) + tuple(seed.generator.latent_shape[1:3]) + \
        widths(seed.generator.latent_shape[3:])
    config.generator.filters = widths(seed.generator.filters)[:doublings - 1]
    config.critic.filters = widths(seed.critic.filters)[dropped:]
    config.encoder.filters = widths(seed.encoder.filters)[dropped:]
    config.encoder.noise_channels = widths([seed.encoder.noise_channels])[0]
    return config


def variant_config(key, steps):
    """--config scaled by --size and --multiplier, with the variant's model, penalty and condition frame, the
    footage split and the budget."""
    config = scaled(FLAGS.config.copy_and_resolve_references(), FLAGS.size, FLAGS.multiplier)
    config = reports.apply_overrides(config, VARIANTS[key][1])
    config.data.source = ",".join(FLAGS.train)
    config.data.validation_source = ",".join(FLAGS.validation)
    config.data.holdout_fraction = 0.0
    config.data.cache_dir = FLAGS.cache_dir
    config.clip.fps = 15  # of the written samples: half the footage's 30 fps
    config.eval.fid_frames, config.eval.clips = FLAGS.eval_frames, 0
    config.loop.num_epochs, config.loop.num_steps = 0, steps
    config.loop.eval_every_steps = FLAGS.eval_every
    config.loop.eval_at_start = True  # the untrained generator's FID is the curve's first point
    # Checkpoints often enough that a stopped run loses little; samples four times per run.
    config.loop.checkpoint_every_steps = min(100, steps)
    config.loop.sample_every_steps = max(1, steps // 4)
    config.loop.histogram_every_steps = 0
    return config


def run_folder():
    """--runs/<size>_x<multiplier>: runs of another size or width never mix."""
    return pathlib.Path(FLAGS.runs) / f"{FLAGS.size}_x{FLAGS.multiplier:g}"


def size_of(config):
    return f"{config.clip.num_frames}x{config.clip.frame_size}x{config.clip.frame_size}"


def time_sizes(timed=4):
    """{size: {variant: median s per generator step}} of `timed` steps after the traced one, at --multiplier,
    saved to --runs/step_times.json (with the machine line) and printed."""
    import dataclasses

    from relive import train
    from videocore import machine
    from videocore import summaries

    results = {}
    for size in SIZES:
        results[size] = {}
        for key in VARIANTS:
            config = variant_config(key, timed + 1)
            config = scaled(config, size, FLAGS.multiplier)
            config.eval.fid_frames, config.loop.eval_every_steps, config.loop.eval_at_start = 0, 0, False
            config.loop.log_every_steps, config.loop.sample_every_steps = 1, 0
            with tempfile.TemporaryDirectory(prefix="relive_sizes_") as workdir:
                train.train_and_evaluate(config, workdir)
                events = summaries.read_back(pathlib.Path(workdir) / "tensorboard", "perf/step_time_s")
            seconds = float(np.median([float(value) for _, _, value in events][1:]))
            results[size][key] = seconds
            print(f"{size} ({key}) {VARIANTS[key][0]}: {seconds:.3f} s per generator step", flush=True)
    saved = {"multiplier": FLAGS.multiplier, "batch": int(FLAGS.config.loop.batch_size),
             "machine": dataclasses.asdict(machine.describe()), "seconds": results}
    path = pathlib.Path(FLAGS.runs) / TIMES_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(path.read_text()) if path.is_file() else {}
    previous[f"{FLAGS.multiplier:g}"] = saved
    path.write_text(json.dumps(previous, indent=2))
    return results


# ----------------------------------------------------------------------------- figures


def strip_figure(clips, columns=8, scale=2):
    """Each clip (N, T, H, W, 3) as a row of `columns` evenly spaced frames, enlarged `scale` times (nearest)."""
    from relive import sample

    image = sample.strip(clips, columns)[0]
    return np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)


CURVE_COLOURS = {"fid": (200, 40, 40), "wasserstein": (30, 90, 200)}


def curves_figure(curves, width=300, height=160, margin=28):
    """One panel per variant: validation FID (red) and the critic's Wasserstein estimate (blue) against the
    step, each scaled to its own range (the panel names the ranges). curves: {key: [(step, fid, w)]}."""
    from PIL import Image, ImageDraw

    panels = []
    for key, points in curves.items():
        image = Image.new("RGB", (width, height), "white")
        draw = ImageDraw.Draw(image)
        steps = np.array([point[0] for point in points], np.float64)
        left, right, top, bottom = margin, width - 8, 22, height - margin
        draw.rectangle([left, top, right, bottom], outline=(160, 160, 160))
        span = max(steps.max() - steps.min(), 1.0)
        labels = []
        for column, name in ((1, "fid"), (2, "wasserstein")):
            values = np.array([point[column] for point in points], np.float64)
            if not np.isfinite(values).any():
                continue
            low, high = np.nanmin(values), np.nanmax(values)
            scale = max(high - low, 1e-12)
            xy = [(left + (step - steps.min()) / span * (right - left), bottom - (value - low) / scale * (bottom - top))
                  for step, value in zip(steps, values) if np.isfinite(value)]
            draw.line(xy, fill=CURVE_COLOURS[name], width=2)
            for x, y in xy:
                draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=CURVE_COLOURS[name])
            labels.append((name, low, high))
        draw.text((left, 4), f"({key}) " + "  ".join(f"{'FID' if name == 'fid' else 'W'} {low:.3g}-{high:.3g}"
                                                     for name, low, high in labels), fill=(0, 0, 0))
        draw.text((left, bottom + 6), f"step {steps.min():.0f}", fill=(0, 0, 0))
        draw.text((right - 60, bottom + 6), f"{steps.max():.0f}", fill=(0, 0, 0))
        panels.append(np.asarray(image))
    return np.concatenate(panels, axis=1)


# ----------------------------------------------------------------------------- measurements


def held_out_config(config):
    """`config` reading the validation clips and the test clip as its (training-free) source."""
    held = config.copy_and_resolve_references()
    held.data.source = ",".join(FLAGS.validation + FLAGS.test)
    held.data.validation_source = ""
    return held


def reference(config):
    """What every variant is compared with, computed once per clip size (cached in the run folder): --clips
    windows evenly spread over the held-out videos (validation + test), as many over the training videos,
    their Inception features and motion."""
    from relive import evaluate
    from relive import inputs
    from videocore import metrics

    key = {"size": size_of(config), "clips": FLAGS.clips, "aspect": config.data.aspect, "stride": config.data.stride,
           "train": footage.names(FLAGS.train), "held": footage.names(FLAGS.validation + FLAGS.test)}
    train_stores, _ = inputs.frame_stores(config, progress=False)
    held_stores, _ = inputs.frame_stores(held_out_config(config), progress=False)
    clips = inputs.first_clips(config, held_stores, FLAGS.clips)
    path = run_folder() / REFERENCE_FILE
    if path.is_file():
        saved = np.load(path, allow_pickle=False)
        if json.loads(str(saved["key"])) == key:
            return {name: saved[name] for name in saved.files if name != "key"} | {"clips": clips}
    train_clips = inputs.first_clips(config, train_stores, FLAGS.clips)
    values = {
        "held_features": metrics.inception_features(evaluate.frames_of(clips)),
        "train_features": metrics.inception_features(evaluate.frames_of(train_clips)),
        "held_change": evaluate.frame_change(clips), "train_change": evaluate.frame_change(train_clips),
        "held_diversity": np.float64(evaluate.temporal_mean_diversity(clips)),
        "train_diversity": np.float64(evaluate.temporal_mean_diversity(train_clips)),
        "held_frames": np.array([len(store) for store in held_stores]),
        "train_frames": np.array([len(store) for store in train_stores]),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name("reference.tmp.npz")
    np.savez(temp, key=json.dumps(key), **values)
    temp.replace(path)
    return values | {"clips": clips}


def psnr_of_mse(mse):
    return float("inf") if mse == 0 else float(10 * np.log10(255.0 ** 2 / mse))


def clip_mse(generated, real):
    """Per-clip mean squared error (N,) of uint8 clips of equal shape."""
    difference = generated.astype(np.float64) - real.astype(np.float64)
    return (difference ** 2).reshape(len(difference), -1).mean(axis=1)


def pooled_psnr(per_clip_mse):
    """PSNR of the squared error pooled over clips, with its 95 % bootstrap interval over clips."""
    statistic = lambda mse: psnr_of_mse(np.mean(mse))  # noqa: E731
    return statistic(per_clip_mse), reports.bootstrap_interval(per_clip_mse, statistic)


def fid_with_interval(features, real_features, frames_per_clip, resamples=200):
    """FID of generated frames' features against the real ones, and its 95 % bootstrap interval over the
    generated clips (whole clips resampled; the real set held fixed)."""
    from videocore import metrics

    clips = features.reshape(-1, frames_per_clip, features.shape[-1])
    statistic = lambda picked: metrics.frechet_distance_of_features(  # noqa: E731
        picked.reshape(-1, features.shape[-1]), real_features)
    return statistic(clips), reports.bootstrap_interval(clips, statistic, resamples=resamples)


def clip_figures(clips, ref, prefix):
    """FID (with interval), frame change (mean over clips, interval) and diversity of generated clips."""
    from relive import evaluate
    from videocore import metrics

    features = metrics.inception_features(evaluate.frames_of(clips))
    fid, fid_interval = fid_with_interval(features, ref["held_features"], clips.shape[1])
    change = evaluate.frame_change(clips)
    return {f"{prefix}fid": fid, f"{prefix}fid_interval": fid_interval, f"{prefix}change": float(change.mean()),
            f"{prefix}change_interval": reports.bootstrap_interval(change),
            f"{prefix}diversity": evaluate.temporal_mean_diversity(clips)}


def training_curves(workdir, window):
    """[(step, validation FID, mean Wasserstein estimate over the `window` steps up to it)] from the run's
    TensorBoard events (the estimate is nan at step 0, before any was logged)."""
    from videocore import summaries

    tensorboard = pathlib.Path(workdir) / "tensorboard"
    fids = [(int(step), float(value)) for step, _, value in summaries.read_back(tensorboard, tag="eval/fid")]
    try:
        estimates = np.array([(step, float(value)) for step, _, value in
                              summaries.read_back(tensorboard, tag="losses/wasserstein_distance")])
    except KeyError:
        estimates = np.zeros((0, 2))
    points = {}
    for step, fid in fids:  # a resumed run may have evaluated a step twice: the later one wins
        near = estimates[(estimates[:, 0] > step - window) & (estimates[:, 0] <= step)] if len(estimates) else []
        points[step] = (step, fid, float(np.mean(near[:, 1])) if len(near) else float("nan"))
    return [points[step] for step in sorted(points)]


def correlations(curve):
    """(Pearson, Spearman) correlation of the Wasserstein estimate with validation FID over the evaluated
    steps where both exist (None, None with fewer than 3)."""
    points = np.array([(fid, estimate) for _, fid, estimate in curve if np.isfinite(estimate)])
    if len(points) < 3:
        return None, None
    ranks = points.argsort(axis=0).argsort(axis=0).astype(np.float64)
    return float(np.corrcoef(points.T)[0, 1]), float(np.corrcoef(ranks.T)[0, 1])


def evaluate_variant(key, config, workdir, ref, figures):
    """FID, motion and diversity of the newest checkpoint's clips and of an untrained generator; for the
    conditional model PSNR against the real clips, the still photo and best-of-5; the curves; figures."""
    import keras

    from relive import models
    from relive import sample
    from videocore import data

    config = sample.run_config(config, workdir)
    conditional = config.model == "conditional"
    real = ref["clips"]
    noise = sample.fixed_noise(config, len(real), seed=NOISE_SEED)
    photos = models.condition_frame(real, config.clip.condition_frame) if conditional else None
    generator = sample.load_networks(config, workdir)["generator"]
    keras.utils.set_random_seed(config.loop.seed)  # the same untrained weights at every evaluation
    untrained = sample.NETWORKS[config.model]["generator"](config)
    curve = training_curves(workdir, FLAGS.eval_every // 2)
    pearson, spearman = correlations(curve)
    results = {"frames": int(len(real) * config.clip.num_frames), "step_time": reports.step_time(workdir),
               "curve": curve, "pearson": pearson, "spearman": spearman}
    generated = sample.generate(generator, noise, photos)
    results.update(clip_figures(generated, ref, ""))
    results.update(clip_figures(sample.generate(untrained, noise, photos), ref, "untrained_"))
    if conditional:
        index = models.condition_index(config.clip.condition_frame, config.clip.num_frames)
        others = [t for t in range(config.clip.num_frames) if t != index]  # the frames a model has to make up
        truth = data.to_uint8_numpy(real[:, others])
        still = np.broadcast_to(data.to_uint8_numpy(photos)[:, None], truth.shape)
        draws = [generated] + [sample.generate(generator, sample.fixed_noise(config, len(real), seed=NOISE_SEED + draw),
                                               photos) for draw in range(1, DRAWS)]
        errors = np.stack([clip_mse(data.to_uint8_numpy(clips[:, others]), truth) for clips in draws])  # (5, N)
        results["psnr"], results["psnr_interval"] = pooled_psnr(errors[0])
        results["still_psnr"], results["still_psnr_interval"] = pooled_psnr(clip_mse(still, truth))
        results["best_psnr"], results["best_psnr_interval"] = pooled_psnr(errors.min(axis=0))
        # How much the noise changes a clip: the RMS difference (levels) between two draws for the same photo.
        levels = np.stack([data.to_uint8_numpy(clips).astype(np.float64) for clips in draws[:2]])
        results["draw_difference"] = float(np.sqrt(((levels[0] - levels[1]) ** 2).mean()))
        untrained_clips = sample.generate(untrained, noise, photos)
        results["untrained_psnr"], results["untrained_psnr_interval"] = pooled_psnr(
            clip_mse(data.to_uint8_numpy(untrained_clips[:, others]), truth))
    results["figures"] = write_figures(key, config, generator, ref, figures)
    return results


PROBES = (
    ("real", "training windows, unaltered"),
    ("shuffled", "the same, frames shuffled in time"),
    ("still", "the same, first frame held still"),
    ("flicker", "the same + grain redrawn every frame"),
    ("grain", "the same + one grain held over the clip"),
    ("generated", "the generator's clips"),
    ("held", "real held-out windows (never trained on)"),
)


def critic_probe(config, workdir, ref):
    """Does the trained critic punish flicker? Its scores (higher = more real) of --clips windows of the
    training clips (what it learnt to call real), of copies of them with time broken (frames shuffled, or
    the first frame held still) or Gaussian grain added, either redrawn every frame (flicker as strong as
    the generator's: sigma = its frame change x sqrt(pi) / 2, the mean absolute difference of two independent
    draws) or one draw held over the clip, and of the generator's clips (the conditional ones around the
    same windows' middle frames, which its critic is given throughout), and of the held-out windows of `ref`
    (does it still call real footage real when it never trained on it?).
    Returns {probe: {"score", "shift", "shift_interval", "change"}}: the mean score, the mean change of
    each clip's score against its unaltered window with a bootstrap interval over clips, and the mean frame
    change (levels)."""
    from relive import evaluate
    from relive import inputs
    from relive import models
    from relive import sample
    from videocore import workdir as workdirs

    train_stores, _ = inputs.frame_stores(config, progress=False)
    real = np.asarray(inputs.first_clips(config, train_stores, FLAGS.clips), np.float32)
    config = sample.run_config(config, workdir)
    conditional = config.model == "conditional"
    critic = (models.conditional_critic if conditional else models.video_critic)(config)
    workdirs.restore(workdir, {"critic": critic}, sample.KIND)
    generator = sample.load_networks(config, workdir)["generator"]
    photos = models.condition_frame(real, config.clip.condition_frame) if conditional else None
    generated = sample.generate(generator, sample.fixed_noise(config, len(real), seed=NOISE_SEED), photos)
    held = np.asarray(ref["clips"][:len(real)], np.float32)
    rng = np.random.default_rng(NOISE_SEED)
    sigma = float(evaluate.frame_change(generated).mean()) * math.sqrt(math.pi) / 2 / 127.5
    clips = {
        "real": real,
        "shuffled": np.stack([clip[rng.permutation(len(clip))] for clip in real]),
        "still": np.repeat(real[:, :1], real.shape[1], axis=1),
        "flicker": np.clip(real + sigma * rng.standard_normal(real.shape, dtype=np.float32), -1, 1),
        "grain": np.clip(real + sigma * rng.standard_normal(real[:, :1].shape, dtype=np.float32), -1, 1),
        "generated": generated,
        "held": held,
    }
    given = {name: photos for name in clips}
    if conditional:
        given["held"] = models.condition_frame(held, config.clip.condition_frame)
    scores = {}
    for name, _ in PROBES:
        batches = []
        for start in range(0, len(clips[name]), 16):
            inputs_ = clips[name][start:start + 16]
            batches.append(critic([inputs_, given[name][start:start + 16]] if conditional else inputs_,
                                  training=False))
        scores[name] = np.concatenate([np.asarray(batch, np.float64).reshape(-1) for batch in batches])
    results = {}
    for name, _ in PROBES:
        shift = scores[name] - scores["real"][:len(scores[name])]  # generated, held: not the same windows
        results[name] = {"score": float(scores[name].mean()), "shift": float(shift.mean()),
                         "shift_interval": reports.bootstrap_interval(shift),
                         "change": float(evaluate.frame_change(clips[name]).mean())}
    return results


def probe_table(rows):
    """Per variant, the critic's mean score of each probe and its change against the unaltered windows."""
    lines = ["| critic of | clips scored | frame change (levels) | mean critic score | change against the "
             "unaltered windows [95 %] |", "|---|---|---|---|---|"]
    for key, _, saved in rows:
        probe = saved["results"].get("probe")
        if not probe:
            continue
        for name, label in PROBES:
            values = probe[name]
            shift = "–" if name == "real" else cell(values, "shift", 3 if key == "a" else 2)
            lines.append(f"| ({key}) | {label} | {values['change']:.2f} | "
                         f"{values['score']:.{3 if key == 'a' else 2}f} | {shift} |")
    return lines


def write_figures(key, config, generator, ref, figures):
    """The variant's sample strip: 8 clips from the run's own sample noise; for the conditional model
    real | generated pairs around 4 held-out photos."""
    from relive import models
    from relive import sample

    real = ref["clips"]
    if config.model != "conditional":
        clips = sample.generate(generator, sample.fixed_noise(config, 8))
        return {"samples": reports.save_figure(figures / f"{key}_samples", strip_figure(clips)).name}
    picks = np.linspace(0, len(real) - 1, 4).round().astype(int)
    photos = models.condition_frame(real[picks], config.clip.condition_frame)
    generated = sample.generate(generator, sample.fixed_noise(config, len(picks)), photos)
    pairs = np.stack([real[picks], generated], axis=1).reshape((-1,) + real.shape[1:])
    return {"samples": reports.save_figure(figures / f"{key}_samples", strip_figure(pairs)).name}


# ----------------------------------------------------------------------------- cache


def identity(trained):
    """What a variant's cached evaluation depends on besides its run: the checkpoint and the evaluation."""
    return {"step": trained, "size": FLAGS.size, "multiplier": FLAGS.multiplier, "clips": FLAGS.clips}


def cached_results(workdir, trained):
    """The results saved for this checkpoint and evaluation, or None (then evaluate again)."""
    return reports.load_results(pathlib.Path(workdir) / RESULTS_FILE, identity(trained))


def save_results(workdir, saved):
    reports.save_results(pathlib.Path(workdir) / RESULTS_FILE, identity(saved["step"]), saved)


# ----------------------------------------------------------------------------- report


def cell(results, name, digits=1):
    """"value [low, high]" of results[name] and results[name + "_interval"]."""
    return reports.with_interval(results[name], results[name + "_interval"], digits)


def table(rows, ref):
    """The results table: real clips first (the scale), then per variant the untrained generator and the run."""
    held_change = float(ref["held_change"].mean())

    def change(results, prefix=""):
        return f"{cell(results, prefix + 'change', 2)} (x{results[prefix + 'change'] / held_change:.2f})"

    lines = ["| clips | steps | s / step | FID vs held-out [95 %] | frame change [95 %] (x real) | diversity | "
             "PSNR of the other frames [95 %] (dB) | best of 5 (dB) |",
             "|---|---|---|---|---|---|---|---|",
             f"| real, held-out (the reference) | – | – | 0 | {held_change:.2f} (x1.00) | "
             f"{float(ref['held_diversity']):.1f} | – | – |",
             f"| real, training clips | – | – | {ref['train_fid']:.1f} | {ref['train_change'].mean():.2f} "
             f"(x{ref['train_change'].mean() / held_change:.2f}) | {float(ref['train_diversity']):.1f} | – | – |"]
    for key, name, saved in rows:
        results = saved["results"]
        conditional = "psnr" in results
        lines.append(f"| ({key}) untrained generator | 0 | – | {cell(results, 'untrained_fid')} | "
                     f"{change(results, 'untrained_')} | {results['untrained_diversity']:.1f} | "
                     f"{cell(results, 'untrained_psnr', 2) if conditional else '–'} | – |")
        if conditional:
            lines.append(f"| ({key}) baseline: the photo, still | – | – | – | 0.00 (x0.00) | – | "
                         f"{cell(results, 'still_psnr', 2)} | – |")
        lines.append(f"| **({key}) {name}** | {saved['step']} | {reports.number(results['step_time'], 2)} | "
                     f"**{cell(results, 'fid')}** | {change(results)} | {results['diversity']:.1f} | "
                     f"{cell(results, 'psnr', 2) if conditional else '–'} | "
                     f"{cell(results, 'best_psnr', 2) if conditional else '–'} |")
    return lines


def step_time_table():
    """The quiet step times of --time_sizes (every size measured, at each multiplier timed), or []."""
    path = pathlib.Path(FLAGS.runs) / TIMES_FILE
    if not path.is_file():
        return []
    lines = ["| multiplier | clip | (a) WGAN s / step | (b) WGAN-GP | (c) conditional |", "|---|---|---|---|---|"]
    machine = ""
    for multiplier, saved in json.loads(path.read_text()).items():
        info = saved["machine"]
        machine = (f"{info['cpu_model']}, {info['cores']} cores ({', '.join(info['isa'])}), TensorFlow "
                   f"{info['tensorflow']}, oneDNN {'on' if info['onednn'] else 'off'}, {info['policy']}, "
                   f"batch {saved['batch']}")
        for size, seconds in saved["seconds"].items():
            chosen = "**" if size == FLAGS.size and float(multiplier) == FLAGS.multiplier else ""
            lines.append(f"| {multiplier} | {chosen}{size}{chosen} | " + " | ".join(
                f"{seconds[key]:.2f}" for key in VARIANTS) + " |")
    return lines + ["", f"Machine: {machine}; 1 traced + 4 timed generator steps each (median), nothing else "
                        "running."]


def predictor_table(path):
    """The first markdown table of `path` (its lines), or [] when the file or a table is missing."""
    if not path.is_file():
        return []
    table_lines = []
    for line in path.read_text().splitlines():
        if line.startswith("|"):
            table_lines.append(line)
        elif table_lines:
            break
    return table_lines


def predictor_section(docs):
    lines = ["## Predictor", ""]
    table_path = docs / "relive_predictor_table.md"
    table_lines = predictor_table(table_path)
    if table_lines:
        lines += [f"The table of [{table_path.name}]({table_path.name}), where the split, the budget and what did "
                  "and did not work are described:", "", *table_lines, ""]
    else:
        lines += ["The predictors' table goes to `relive_predictor_table.md` in this folder once written.", ""]
    return lines


def report(rows, ref, config, docs):
    """Writes docs/relive.md from the cached results of every evaluated variant."""
    path = docs / "relive.md"
    held = len(ref["clips"]) * config.clip.num_frames
    lines = [
        "# Reproducing (Re)Live Photos: WGAN, WGAN-GP and the conditional WGAN-GP on human motion",
        "",
        f"Footage split by whole clip (`reproduce/footage.py`: ASL signing, 30 fps, fixed camera). Trained on "
        f"{footage.names(FLAGS.train)} ({int(ref['train_frames'].sum())} frames). Watched "
        f"during training (validation FID) on {footage.names(FLAGS.validation)}. Every figure below is "
        f"measured on {len(ref['clips'])} windows evenly spread over those validation clips and the test clip "
        f"{footage.names(FLAGS.test)} ({int(ref['held_frames'].sum())} frames in all; overlapping windows, {held} frames counted), none "
        f"ever trained on. Clips of {size_of(config)} (frames x height x width), the seed's networks with every "
        f"width times {FLAGS.multiplier:g} (see Scale).",
        "",
        "## Commands",
        "",
        "Each variant's run lives in `runs/reproduce_relive/<size>_x<multiplier>/<variant>` (git-ignored); the "
        "commands that trained them, then the one that evaluated and wrote this report (a larger `--steps` resumes "
        "and extends the runs):",
        "",
        "```",
    ]
    lines += sorted({saved["command"] for _, _, saved in rows if saved.get("command")})
    lines += [report_command(), "```", ""]
    times = step_time_table()
    if times:
        lines += ["## Scale", "",
                  "Quiet step times (one generator step = 5 critic updates + 1 generator update) from "
                  "`python -m reproduce.relive --time_sizes --multiplier=M`; the size trained is in bold:", "",
                  *times, ""]
    lines += ["## Figures", "",
              f"Every generator makes {len(ref['clips'])} clips from fixed noise (the conditional one around the "
              f"middle frames of the held-out windows), so every FID compares {held} frames with {held}.",
              "",
              "- **FID**: Inception pool features of every frame (resized to 299x299) against the held-out frames; "
              "[95 %] is a bootstrap over the generated clips (200 resamples, the real set fixed). Few small frames: "
              "the values are biased upwards; compare rows, not with published FIDs. The training clips' own "
              "windows give the floor a generator that copied its training footage would reach.",
              "- **Frame change**: the mean absolute difference between consecutive frames, in uint8 levels, mean "
              "over clips [bootstrap over clips], and its ratio to the real held-out clips'. Near 0: a clip that "
              "does not move; far above x1: flicker.",
              "- **Diversity**: the mean over pairs of clips of the RMS distance (levels) between their temporal "
              "means. Flicker averages out of a temporal mean (its share falls with 1/sqrt(frames)); a collapsed "
              "generator scores 0.",
              "- **PSNR of the other frames** (conditional only): the generated clip against the real held-out "
              "clip around the same photo, over every frame but the photo, squared error pooled over clips "
              "[bootstrap over clips]; the baseline repeats the photo. **Best of 5**: per clip the best of 5 "
              "noise draws.",
              "- **s / step**: median logged time of one generator step during the run (slower than the quiet "
              "times above while another process shared the cores).",
              "", *table(rows, ref), ""]
    conditional = [saved["results"] for key, _, saved in rows if "psnr" in saved["results"]]
    if conditional:
        lines += [f"Two noise draws for the same photo differ by {conditional[0]['draw_difference']:.1f} levels RMS "
                  "(over whole clips).", ""]
    curves = {key: saved["results"]["curve"] for key, _, saved in rows if saved["results"].get("curve")}
    if curves:
        figure = reports.save_figure(docs / "relive" / "wasserstein_fid", curves_figure(curves))
        lines += ["## Does the critic's estimate track sample quality?", "",
                  f"Validation FID ({FLAGS.eval_frames} frames at most of the {len(FLAGS.validation)} validation "
                  "clips, fixed noise; red) "
                  f"every {FLAGS.eval_every} steps, and the critic's Wasserstein estimate "
                  f"(`losses/wasserstein_distance`, averaged over the {FLAGS.eval_every // 2} steps up to it; blue), "
                  "each drawn to its own range:", "", f"![Wasserstein estimate and FID](relive/{figure.name})", "",
                  "| variant | evaluated steps with an estimate | Pearson r (estimate, FID) | Spearman rho |",
                  "|---|---|---|---|"]
        for key, _, saved in rows:
            results = saved["results"]
            if results.get("curve"):
                steps = [step for step, _, estimate in results["curve"] if np.isfinite(estimate)]
                lines.append(f"| ({key}) | {len(steps)} ({min(steps)}-{max(steps)}) | "
                             f"{reports.number(results['pearson'], 2)} | "
                             f"{reports.number(results['spearman'], 2)} |")
        lines.append("")
    probes = probe_table(rows)
    if len(probes) > 2:
        lines += ["## Does the critic punish flicker?", "",
                  f"Each trained critic scores {FLAGS.clips} windows of the training clips (what it learnt to call "
                  "real), copies of them with time broken or grain added, and its generator's clips. The grain is "
                  "Gaussian, with the standard deviation that makes frame-to-frame change as large as the "
                  "generator's: redrawn every frame it is flicker, drawn once and held it is a still texture. A "
                  "critic that teaches the generator not to flicker scores the flickering copies well below the "
                  "unaltered windows, and below the held grain. Changes are per clip, against the same window "
                  "unaltered (the conditional critic is given that window's real middle frame throughout). The "
                  "held-out windows and the unconditional generators' clips are not copies of the training "
                  "windows: for them only the mean change means anything:", "",
                  *probes, ""]
    by_key = {key: (name, saved) for key, name, saved in rows}
    lines += ["## Samples", ""]
    for key in ("a", "b"):
        if key in by_key:
            name, saved = by_key[key]
            lines += [f"({key}) {name}, step {saved['step']}: 8 clips from the noise the run's own sample grids use, "
                      f"each a row of 8 evenly spaced frames of {config.clip.num_frames}.", "",
                      f"![{key} samples](relive/{saved['results']['figures']['samples']})", ""]
    real_figure = reports.save_figure(docs / "relive" / "real_held_out",
                              strip_figure(ref["clips"][np.linspace(0, len(ref["clips"]) - 1, 8).round().astype(int)]))
    lines += ["Real held-out windows for comparison (8, evenly spread over the held-out clips):", "",
              f"![real held-out clips](relive/{real_figure.name})", ""]
    if "c" in by_key:
        name, saved = by_key["c"]
        lines += [f"(c) {name}, step {saved['step']}: rows in pairs, a real held-out window and the clip generated "
                  "around its middle frame.", "", f"![c samples](relive/{saved['results']['figures']['samples']})", ""]
    kept = reports.kept_section(path, NOTES_HEADING, "_To be written from the table and figures above._")
    lines += [reports.BEGIN_KEPT, *kept, reports.END_KEPT, ""]
    return reports.write_report(path, lines + predictor_section(docs))


def report_command():
    return reports.command_line("relive", drop=("--evaluate_only", "--variants", "--train_only"),
                                prefix=["--evaluate_only"])


def train_command(key):
    return reports.command_line("relive", drop=("--evaluate_only", "--variants", "--train_only"),
                                prefix=[f"--variants={key}"])


def main(argv):
    del argv
    from relive import train
    from videocore import errors
    from videocore import metrics

    cli.check_flags(choices=[("variants", VARIANTS)], positive=["steps", "eval_every", "eval_frames", "clips"])
    if FLAGS.time_sizes:
        time_sizes()
        return
    steps = variant_steps()
    runs, docs = run_folder(), pathlib.Path(FLAGS.docs)
    figures = docs / "relive"
    variants = FLAGS.variants
    if FLAGS.evaluate_only:
        variants = [key for key in variants if (runs / key / "checkpoints").is_dir()]
        if not variants:
            raise errors.CheckpointError(f"{runs}: no run to evaluate of variants {','.join(FLAGS.variants)}; train "
                                         "them first (without --evaluate_only)")
    ref = None
    for key in variants:
        name, _ = VARIANTS[key]
        workdir = runs / key
        config = variant_config(key, steps[key])
        command = None
        if not FLAGS.evaluate_only:
            print(f"({key}) {name}: training to step {steps[key]} in {workdir}", flush=True)
            start = time.time()
            result = train.train_and_evaluate(config, workdir)
            print(f"({key}) at step {result.step} after {(time.time() - start) / 60:.1f} min", flush=True)
            if result.stopped_by:  # a signal: stop here, every run resumes from its checkpoint
                print(f"({key}) stopped by {result.stopped_by}; run the same command to resume", flush=True)
                return
            command = train_command(key)
            (workdir / COMMAND_FILE).write_text(command + "\n")
            if FLAGS.train_only:
                continue
        trained = reports.trained_steps(workdir)
        saved = cached_results(workdir, trained)
        if saved is None:
            ref = ref or reference(config)
            command_file = workdir / COMMAND_FILE
            saved = {"step": trained, "size": size_of(config),
                     "command": command or (command_file.read_text().strip() if command_file.is_file() else None),
                     "results": evaluate_variant(key, config, workdir, ref, figures)}
            save_results(workdir, saved)
        elif command:
            saved["command"] = command
            save_results(workdir, saved)
        if "probe" not in saved["results"]:  # added after the first evaluations: computed once, then cached
            ref = ref or reference(config)
            saved["results"]["probe"] = critic_probe(config, workdir, ref)
            save_results(workdir, saved)
        results = saved["results"]
        print(f"({key}) {name}: step {trained}, FID {results['fid']:.1f} (untrained {results['untrained_fid']:.1f}), "
              f"frame change {results['change']:.2f}, diversity {results['diversity']:.1f}", flush=True)
    if FLAGS.train_only:
        return
    # The report, with every variant evaluated so far (in this run or an earlier one).
    config = variant_config("a", FLAGS.steps)
    ref = ref or reference(config)
    ref["train_fid"] = metrics.frechet_distance_of_features(ref["train_features"], ref["held_features"])
    rows = []
    for key, (name, _) in VARIANTS.items():
        saved = cached_results(runs / key, reports.trained_steps(runs / key))
        if saved is not None:
            rows.append((key, name, saved))
    print(f"wrote {report(rows, ref, config, docs)}", flush=True)


if __name__ == "__main__":
    cli.run(main)
