"""Reproduces (Re)Live Photos' GANs on a real clip and writes docs/reproduction/relive.md.

    python -m reproduce.relive --steps=800                     # a, b, c at the demo preset's size
    python -m reproduce.relive --steps=1600                    # later: resume and extend the same runs
    python -m reproduce.relive --steps=800 --variant_steps=a=1200
    python -m reproduce.relive --evaluate_only                 # re-make the report from the runs
    python -m reproduce.relive --config=relive/configs.py:seed --steps=100   # the poster's 32x64x64
    python -m reproduce.relive --config=relive/configs.py:quick --steps=4 --runs=/tmp/r --docs=/tmp/d

Variants, each trained on the first 80 % of every video's frames (the last 20 % are held out):
  a  WGAN with weight clipping (the seed: critic with batch norm, RMSProp 5e-5, c = 0.01);
  b  WGAN-GP (the gradient penalty, lambda 10, no critic batch norm, Adam);
  c  conditional WGAN-GP given the middle frame (the poster's architecture).
Sizes and learning rates come from --config (default the `demo` preset; --config.x=y overrides).
Workdirs live in runs/reproduce_relive/<variant> (git-ignored): a later run resumes them up to the
new step count. Each variant's evaluation is cached beside its run (reproduction.json) and redone
only when the checkpoint changed. Figures (PNG or JPEG < 150 KB) go to docs/reproduction/relive/.
Hand-written text between the report's HAND_WRITTEN markers survives a rewrite; the predictor
table of docs/reproduction/relive_predictor_table.md (reproduce/relive_predictor.py) is copied in when
that file exists. The FID and next-frame checks bench/eval_relive.py used to make are these and that.
"""

import json
import pathlib
import time

import numpy as np
from absl import flags

from videocore import cli  # (importing it quietens TensorFlow's C++ start-up lines)

from reproduce import report as reports

VARIANTS = {
    "a": ("WGAN, weight clipping (the seed)", {"model": "wgan", "critic.penalty": "clip"}),
    "b": ("WGAN-GP", {"model": "wgan", "critic.penalty": "gradient"}),
    "c": ("conditional WGAN-GP, middle frame", {"model": "conditional", "critic.penalty": "gradient",
                                                "clip.condition_frame": "middle"}),
}
RESULTS_FILE = "reproduction.json"
REFERENCE_FILE = "reference.npz"
NOTES_HEADING = "## What this shows and what it does not"
NOISE_SEED = 7  # of the noise behind every evaluated clip (the sample grids use config.sample.seed)

FLAGS = flags.FLAGS
reports.define_run_flags("relive")
cli.config_flag("relive/configs.py:demo", "Sizes and optimizers; the variants set model, penalty and condition frame.")
flags.DEFINE_string("video", str(reports.SHARED_DATA / "one-by-one-person-detection.mp4"),
                    "The footage to train on (any relive data.source).")
flags.DEFINE_integer("steps", 800, "Generator steps per variant (each with critic.steps critic updates).")
flags.DEFINE_list("variant_steps", [], "Per-variant step counts overriding --steps, e.g. a=1200,c=600.")
flags.DEFINE_list("variants", ["a", "b", "c"], "Which variants: a (clip), b (GP), c (conditional GP).")
flags.DEFINE_float("holdout", 0.2, "Fraction at the end of every video never trained on.")
flags.DEFINE_string("predictor_workdir", "", "A trained relive predictor run: its roll-out of the photo is "
                    "added to the report.")


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


def variant_config(key, steps):
    """--config with the variant's model, penalty and condition frame, the footage and the budget."""
    config = reports.apply_overrides(FLAGS.config.copy_and_resolve_references(), VARIANTS[key][1])
    config.data.source = FLAGS.video
    config.data.holdout_fraction = FLAGS.holdout
    config.data.cache_dir = FLAGS.cache_dir
    config.eval.fid_frames, config.eval.clips = 0, 0  # evaluated here, once, on every held-out clip
    config.loop.num_epochs, config.loop.num_steps = 0, steps
    # Checkpoints often enough that a stopped run loses little; samples four times per run.
    config.loop.checkpoint_every_steps = min(200, steps)
    config.loop.sample_every_steps = max(1, steps // 4)
    config.loop.histogram_every_steps = 0
    return config


def size_of(config):
    return f"{config.clip.num_frames}x{config.clip.frame_size}x{config.clip.frame_size}"


# ----------------------------------------------------------------------------- figures


def strip_figure(clips, columns=8, scale=2):
    """Each clip (N, T, H, W, 3) as a row of `columns` evenly spaced frames, enlarged `scale` times (nearest)."""
    from relive import sample

    image = sample.strip(clips, columns)[0]
    return np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)


# ----------------------------------------------------------------------------- measurements


def wasserstein_by_quarter(workdir):
    """[(last step, mean)] of the critic's logged Wasserstein estimate over each quarter of the run (noisy
    per step, so averaged); [] when none was logged."""
    from videocore import summaries

    try:
        values = summaries.read_back(pathlib.Path(workdir) / "tensorboard", tag="losses/wasserstein_distance")
    except KeyError:
        return []
    quarters = np.array_split(np.array([(step, float(value)) for step, _, value in values]), 4)
    return [(int(part[-1, 0]), float(part[:, 1].mean())) for part in quarters if len(part)]


def frames_of(clips):
    """(N, T, H, W, 3) float in [-1, 1] -> (N*T, H, W, 3) uint8."""
    from videocore import data

    return data.to_uint8_numpy(clips).reshape((-1,) + clips.shape[2:])


def reference(config):
    """What every variant is compared with, computed once per footage, hold-out and clip size (cached in
    --runs): held-out clips in order, their Inception features, as many random training frames' features,
    and the real clips' motion."""
    from relive import evaluate
    from relive import inputs
    from videocore import metrics

    train_stores, held_out = inputs.frame_stores(config, progress=False)
    clips = inputs.held_out_clips(config, held_out, 10**6)  # (N, T, H, W, 3), non-overlapping, in order
    key = {"video": FLAGS.video, "holdout": FLAGS.holdout, "size": size_of(config), "aspect": config.data.aspect,
           "stride": config.data.stride}
    path = pathlib.Path(FLAGS.runs) / REFERENCE_FILE
    if path.is_file():
        saved = np.load(path, allow_pickle=False)
        if json.loads(str(saved["key"])) == key:
            return {name: saved[name] for name in saved.files if name != "key"} | {"clips": clips}
    held_frames = frames_of(clips)
    # As many training frames as held-out frames (FID is biased by the count: keep it equal everywhere).
    every_train_frame = np.concatenate([np.asarray(store.frames) for store in train_stores])
    picks = np.random.default_rng(2).choice(len(every_train_frame), size=len(held_frames), replace=False)
    train_clips = inputs.first_clips(config, train_stores, len(clips))  # evenly spread over the training span
    values = {
        "held_features": metrics.inception_features(held_frames),
        "train_features": metrics.inception_features(every_train_frame[picks]),
        "held_change": evaluate.frame_change(clips), "held_spread": np.float64(evaluate.clip_spread(clips)),
        "train_change": evaluate.frame_change(train_clips),
        "train_spread": np.float64(evaluate.clip_spread(train_clips)),
        # Where the held-out span starts in each video: the photo's frame number in the footage.
        "held_start": np.array([len(store) for store in train_stores]),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name("reference.tmp.npz")
    np.savez(temp, key=json.dumps(key), **values)
    temp.replace(path)
    return values | {"clips": clips}


def pooled_psnr(generated, real):
    """PSNR (dB, peak 255) of the mean squared error over all frames of uint8 arrays of equal shape."""
    mse = np.mean((generated.astype(np.float64) - real.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0 ** 2 / mse))


def clip_figures(clips, prefix):
    from relive import evaluate

    change = evaluate.frame_change(clips)
    return {f"{prefix}change": float(change.mean()), f"{prefix}change_std": float(change.std()),
            f"{prefix}spread": evaluate.clip_spread(clips)}


def evaluate_variant(key, config, workdir, ref, figures):
    """FID, motion and spread of the newest checkpoint's clips and of an untrained generator; figures."""
    import keras

    from relive import models
    from relive import sample
    from videocore import data
    from videocore import metrics

    config = sample.run_config(config, workdir)
    conditional = config.model == "conditional"
    real = ref["clips"]
    noise = sample.fixed_noise(config, len(real), seed=NOISE_SEED)
    photos = models.condition_frame(real, config.clip.condition_frame) if conditional else None
    generator = sample.load_networks(config, workdir)["generator"]
    keras.utils.set_random_seed(config.loop.seed)  # the same untrained weights at every evaluation
    untrained = sample.NETWORKS[config.model]["generator"](config)
    results = {"frames": int(len(real) * config.clip.num_frames), "step_time": reports.step_time(workdir),
               "wasserstein": wasserstein_by_quarter(workdir)}
    for prefix, network in (("", generator), ("untrained_", untrained)):
        clips = sample.generate(network, noise, photos)
        features = metrics.inception_features(frames_of(clips))
        results[f"{prefix}fid"] = metrics.frechet_distance_of_features(features, ref["held_features"])
        results.update(clip_figures(clips, prefix))
        if prefix == "":
            generated = clips
    if conditional:
        index = models.condition_index(config.clip.condition_frame, config.clip.num_frames)
        others = [t for t in range(config.clip.num_frames) if t != index]  # the frames a model has to make up
        truth = data.to_uint8_numpy(real[:, others])
        still = data.to_uint8_numpy(photos)
        results["psnr"] = pooled_psnr(data.to_uint8_numpy(generated[:, others]), truth)
        results["still_psnr"] = pooled_psnr(np.broadcast_to(still[:, None], truth.shape), truth)
        # The still photo repeated: its frames' features are the photo's, once per frame of the clip.
        still_features = np.repeat(metrics.inception_features(still), config.clip.num_frames, axis=0)
        results["still_fid"] = metrics.frechet_distance_of_features(still_features, ref["held_features"])
    results["figures"] = write_figures(key, config, workdir, generator, ref, figures)
    return results


def write_figures(key, config, workdir, generator, ref, figures):
    """The variant's sample grid (and for the conditional model, real | generated pairs and the photo strip)."""
    from relive import models
    from relive import sample

    real = ref["clips"]
    names = {}
    if config.model != "conditional":
        clips = sample.generate(generator, sample.fixed_noise(config, 8))  # the training's own sample noise
        names["samples"] = reports.save_figure(figures / f"{key}_samples", strip_figure(clips))
        return {label: path.name for label, path in names.items()}
    picks = np.linspace(0, len(real) - 1, 4).round().astype(int)
    photos = models.condition_frame(real[picks], config.clip.condition_frame)
    generated = sample.generate(generator, sample.fixed_noise(config, len(picks)), photos)
    pairs = np.stack([real[picks], generated], axis=1).reshape((-1,) + real.shape[1:])
    names["samples"] = reports.save_figure(figures / f"{key}_samples", strip_figure(pairs))
    photo, source = photo_strip(key, config, generator, ref, figures)
    if photo is not None:
        names["photo"] = photo
    return {label: path.name for label, path in names.items()} | ({"photo_source": source} if source else {})


def choose_photo(config, ref):
    """(held-out clip index, frame number in the footage) of the conditioning frame of the held-out clip
    that moves most, and that frame saved at the footage's own resolution as a JPEG in --runs."""
    from PIL import Image

    from relive import inputs
    from relive import models
    from videocore import data
    from videocore import files
    from videocore import video

    if len(inputs.source_paths(config.data.source)) != 1:
        return None  # a folder of videos: which video a clip came from is not tracked here
    clip = int(np.argmax(ref["held_change"]))
    # Held-out clips are the sliding windows of inputs.held_out_clips: one span apart, from the cut.
    span = data.clip_span(config.clip.num_frames, config.data.stride)
    frame = (int(ref["held_start"][0]) + clip * span
             + models.condition_index(config.clip.condition_frame, config.clip.num_frames) * config.data.stride)
    path = pathlib.Path(FLAGS.runs) / f"photo_frame{frame:05d}.jpg"
    if not path.is_file():
        source = inputs.source_paths(config.data.source)[0]
        image = next((image for index, image in enumerate(video.read_frames(source)) if index == frame), None)
        if image is None:
            return None
        with files.atomic_path(path) as temp:
            Image.fromarray(image).save(temp, format="JPEG", quality=95)
    return clip, frame, path


def photo_strip(key, config, generator, ref, figures):
    """Rows: the real held-out clip around the photo, the still photo, three clips generated around it
    (the photo read back from its JPEG as `run_scripts/relive_photo` reads one)."""
    from relive import sample

    chosen = choose_photo(config, ref)
    if chosen is None:
        return None, None
    clip, frame, path = chosen
    photo = sample.load_photo(path, config.clip.frame_size)
    photos = np.repeat(photo[None], 3, axis=0)
    generated = sample.generate(generator, sample.fixed_noise(config, 3, seed=NOISE_SEED + 1), photos)
    still = np.repeat(photo[None, None], config.clip.num_frames, axis=1)
    rows = np.concatenate([ref["clips"][clip:clip + 1], still, generated])
    written = reports.save_figure(figures / f"{key}_photo", strip_figure(rows))
    return written, f"frame {frame} ({frame / video_fps():.1f} s), `{path.name}`"


def video_fps():
    from relive import inputs
    from videocore import video

    return float(video.probe(inputs.source_paths(FLAGS.video)[0]).fps)


def predictor_strip(config, figures):
    """The photo followed by the predictor's roll-out (from --predictor_workdir), or None."""
    import tensorflow as tf

    from relive import sample

    workdir = pathlib.Path(FLAGS.predictor_workdir) if FLAGS.predictor_workdir else None
    if workdir is None or not (workdir / "checkpoints").is_dir():
        return None
    photo_path = next(iter(sorted(pathlib.Path(FLAGS.runs).glob("photo_frame*.jpg"))), None)
    if photo_path is None:
        return None
    run = sample.run_config(config, workdir)
    photo = sample.load_photo(photo_path, run.clip.frame_size)
    predictor = sample.load_networks(run, workdir, "predictor")["predictor"]
    rolled = tf.cast(predictor.rollout(tf.constant(photo[None]), run.sample.rollout_frames), tf.float32).numpy()
    clip = np.concatenate([photo[None, None], rolled], axis=1)
    still = np.repeat(photo[None, None], clip.shape[1], axis=1)
    path = reports.save_figure(figures / "predictor_photo", strip_figure(np.concatenate([still, clip])))
    shown = workdir.resolve().relative_to(reports.REPO) if workdir.resolve().is_relative_to(reports.REPO) else workdir
    return {"figure": path.name, "workdir": str(shown), "step": reports.trained_steps(workdir), "photo": photo_path.name,
            "size": f"{run.clip.frame_size}x{run.clip.frame_size}", "rollout": int(run.sample.rollout_frames)}


# ----------------------------------------------------------------------------- cache


def identity(trained):
    """What a variant's cached evaluation depends on besides its run: the checkpoint, the footage, the split."""
    return {"step": trained, "video": FLAGS.video, "holdout": FLAGS.holdout}


def cached_results(workdir, trained):
    """The results saved for this checkpoint, footage and hold-out, or None (then evaluate again)."""
    return reports.load_results(pathlib.Path(workdir) / RESULTS_FILE, identity(trained))


def previous_results(workdir):
    """The last results saved for the run, whatever its checkpoint then ({} without any)."""
    path = pathlib.Path(workdir) / RESULTS_FILE
    return json.loads(path.read_text()).get("results", {}) if path.is_file() else {}


def save_results(workdir, saved):
    reports.save_results(pathlib.Path(workdir) / RESULTS_FILE, identity(saved["step"]), saved)


# ----------------------------------------------------------------------------- report


def table(rows, ref):
    """The results table: real clips first (the scale), then per variant the untrained generator and the run."""
    fid_train = ref["train_fid"]
    lines = ["| clips | steps | s / step | FID vs held-out | frame change (mean ± std over clips) | clip spread "
             "| PSNR of the other frames (dB) |",
             "|---|---|---|---|---|---|---|",
             f"| real, held-out (the reference) | – | – | 0 | {ref['held_change'].mean():.2f} ± "
             f"{ref['held_change'].std():.2f} | {float(ref['held_spread']):.1f} | – |",
             f"| real, training span | – | – | {fid_train:.1f} | {ref['train_change'].mean():.2f} ± "
             f"{ref['train_change'].std():.2f} | {float(ref['train_spread']):.1f} | – |"]
    for key, name, saved in rows:
        results = saved["results"]
        conditional = "psnr" in results
        lines.append(f"| ({key}) untrained generator | 0 | – | {results['untrained_fid']:.1f} | "
                     f"{results['untrained_change']:.2f} ± {results['untrained_change_std']:.2f} | "
                     f"{results['untrained_spread']:.1f} | – |")
        if conditional:
            lines.append(f"| ({key}) baseline: the photo, still | – | – | {results['still_fid']:.1f} | 0.00 ± 0.00 | – "
                         f"| {results['still_psnr']:.2f} |")
        lines.append(f"| **({key}) {name}** | {saved['step']} | {reports.number(results['step_time'], 2)} | "
                     f"**{results['fid']:.1f}** | {results['change']:.2f} ± {results['change_std']:.2f} | "
                     f"{results['spread']:.1f} | {reports.number(results.get('psnr'), 2) if conditional else '–'} |")
    return lines


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


def predictor_section(docs, predictor):
    lines = ["## Predictor", ""]
    table_path = docs / "relive_predictor_table.md"
    table_lines = predictor_table(table_path)
    if table_lines:
        lines += [f"The table of [{table_path.name}]({table_path.name}), where the footage, the test video, the "
                  "budget and what did and did not work are described:", "", *table_lines, ""]
    else:
        lines += ["The LSTM predictor's table (copy-last as the first row; 1-, 5- and 10-step roll-outs in PSNR and "
                  "SSIM on footage not trained on) goes to `relive_predictor_table.md` in this folder once written.",
                  ""]
    if predictor:
        lines += [f"The photo above relived by the predictor in `{predictor['workdir']}` (step {predictor['step']}, "
                  f"{predictor['size']}): top row the still photo, below it the photo followed by "
                  f"{predictor['rollout']} predicted frames (8 evenly spaced frames shown).", "",
                  f"![predictor photo](relive/{predictor['figure']})", ""]
    return lines


def report(rows, ref, config, docs, predictor):
    """Writes docs/relive.md from the cached results of every evaluated variant."""
    path = docs / "relive.md"
    info_fps = video_fps()
    frames = sum(int(n) for n in ref["held_start"])
    held = len(ref["clips"]) * config.clip.num_frames
    lines = [
        "# Reproducing (Re)Live Photos: WGAN, WGAN-GP and the conditional WGAN-GP",
        "",
        f"Footage: `{pathlib.Path(FLAGS.video).name}` ({info_fps:g} fps), centre-cropped to a square and "
        f"resized. Trained on its first {frames} frames; every figure below is measured on the last "
        f"{FLAGS.holdout:.0%}, never trained on ({len(ref['clips'])} non-overlapping clips, {held} frames). "
        f"Clips of {size_of(config)} (frames x height x width).",
        "",
        "## Commands",
        "",
        "Each variant's run lives in `runs/reproduce_relive/<variant>` (git-ignored); the command that trained it "
        "last, then the one that evaluated and wrote this report (the same command with a larger `--steps` resumes "
        "and extends the runs):",
        "",
        "```",
    ]
    lines += sorted({saved["command"] for _, _, saved in rows if saved.get("command")})
    lines += [report_command(), "```", "",
              "## Figures", "",
              f"Every generator makes {len(ref['clips'])} clips from fixed noise (the conditional one around the "
              "conditioning frames of the held-out clips), the same count as the held-out clips, so every FID below "
              f"compares {held} frames with {held}. Scale: the training span's own frames against the held-out frames "
              "(what a generator that reproduced the training footage exactly would score) and each architecture's "
              "untrained generator (what zero training scores).",
              "",
              "- **FID**: Inception pool features of every frame (resized to 299x299) against the held-out frames. "
              "Few frames at a small size: the values are biased upwards; compare rows, not with published FIDs.",
              "- **Frame change**: the mean absolute difference between consecutive frames of a clip, in uint8 levels "
              "(0-255), averaged over clips; ± its standard deviation over clips (`relive.evaluate.frame_change`). "
              "A generator that ignores time scores near 0, a flickering one far above the real clips.",
              "- **Clip spread**: the standard deviation across clips of every pixel, averaged "
              "(`relive.evaluate.clip_spread`); 0 = every clip the same (mode collapse).",
              "- **PSNR of the other frames** (conditional only): the generated clip against the real held-out clip "
              "around the same photo, over every frame except the photo itself; the baseline repeats the photo.",
              "- **s / step**: median logged time of one generator step (critic.steps critic updates and one "
              "generator update) on this machine, whatever else ran on it.",
              "", *table(rows, ref), ""]
    curves = [(key, saved["results"].get("wasserstein")) for key, _, saved in rows]
    if any(curve for _, curve in curves):
        lines += ["The critic's estimate of the Wasserstein distance (`losses/wasserstein_distance`), averaged over "
                  "each quarter of the logged run, as (last step of the quarter: value). Weight clipping bounds the "
                  "critic, so (a)'s scale is not comparable with (b)'s and (c)'s; within a run a falling value is "
                  "the critic finding less to tell apart.", ""]
        lines += [f"- ({key}) " + ", ".join(f"{step}: {value:.3g}" for step, value in curve)
                  for key, curve in curves if curve]
        lines.append("")
    histories = [(key, saved.get("history", []) + [[saved["step"], saved["results"]["fid"]]]) for key, _, saved in rows]
    if any(len(history) > 1 for _, history in histories):
        lines += ["FID vs held-out at each evaluated budget of the same run (step: FID):", ""]
        lines += [f"- ({key}) " + ", ".join(f"{step}: {fid:.1f}" for step, fid in sorted(history))
                  for key, history in histories]
        lines.append("")
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
    lines += ["Real held-out clips for comparison (8 of them, evenly spread over the held-out span):", "",
              f"![real held-out clips](relive/{real_figure.name})", ""]
    if "c" in by_key:
        name, saved = by_key["c"]
        figures = saved["results"]["figures"]
        lines += [f"(c) {name}, step {saved['step']}: rows in pairs, a real held-out clip and the clip generated "
                  "around its middle frame.", "", f"![c samples](relive/{figures['samples']})", ""]
        if figures.get("photo"):
            lines += ["## A photo relived", "",
                      f"The photo: the middle frame of the held-out clip that moves most, {figures['photo_source']}, "
                      "saved as a JPEG at the footage's resolution and read back as `run_scripts/relive_photo` reads "
                      "a photo (centre crop, resize). Rows: the real clip around it, the still photo, and three "
                      "clips the conditional model generates around it from other noise.", "",
                      f"![photo relived](relive/{figures['photo']})", ""]
    kept = reports.kept_section(path, NOTES_HEADING, "_To be written from the table and figures above._")
    lines += [reports.BEGIN_KEPT, *kept, reports.END_KEPT, ""]
    return reports.write_report(path, lines + predictor_section(docs, predictor))


def report_command():
    return reports.command_line("relive", drop=("--evaluate_only", "--variants"), prefix=["--evaluate_only"])


def train_command(key):
    return reports.command_line("relive", drop=("--evaluate_only", "--variants"), prefix=[f"--variants={key}"])


def main(argv):
    del argv
    from relive import train
    from videocore import errors
    from videocore import metrics

    cli.check_flags(choices=[("variants", VARIANTS)], positive=["steps"], fractions=["holdout"])
    steps = variant_steps()
    runs, docs = pathlib.Path(FLAGS.runs), pathlib.Path(FLAGS.docs)
    figures = docs / "relive"
    ref = None
    variants = FLAGS.variants
    if FLAGS.evaluate_only:
        variants = [key for key in variants if (runs / key / "checkpoints").is_dir()]
        if not variants:
            raise errors.CheckpointError(f"{runs}: no run to evaluate of variants {','.join(FLAGS.variants)}; train "
                                         "them first (without --evaluate_only)")
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
        trained = reports.trained_steps(workdir)
        saved = cached_results(workdir, trained)
        if saved is None:
            ref = ref or reference(config)
            previous = previous_results(workdir)
            # Earlier evaluations of the same run (fewer steps) stay as the run's FID history.
            history = previous.get("history", []) if previous.get("size") == size_of(config) else []
            if previous.get("size") == size_of(config) and previous.get("step") != trained:
                history = history + [[previous["step"], previous["results"]["fid"]]]
            saved = {"step": trained, "video": FLAGS.video, "holdout": FLAGS.holdout, "size": size_of(config),
                     "command": command or previous.get("command"), "history": history,
                     "results": evaluate_variant(key, config, workdir, ref, figures)}
            save_results(workdir, saved)
        elif command:
            saved["command"] = command
            save_results(workdir, saved)
        results = saved["results"]
        print(f"({key}) {name}: step {trained}, FID {results['fid']:.1f} (untrained {results['untrained_fid']:.1f}), "
              f"frame change {results['change']:.2f}, spread {results['spread']:.1f}", flush=True)
    # The report, with every variant evaluated so far (in this run or an earlier one).
    config = variant_config("a", FLAGS.steps)
    ref = ref or reference(config)
    ref["train_fid"] = metrics.frechet_distance_of_features(ref["train_features"], ref["held_features"])
    rows = []
    for key, (name, _) in VARIANTS.items():
        workdir = runs / key
        saved = cached_results(workdir, reports.trained_steps(workdir))
        if saved is not None and saved.get("size") == size_of(config):
            rows.append((key, name, saved))
    predictor = predictor_strip(config, figures)
    print(f"wrote {report(rows, ref, config, docs, predictor)}", flush=True)


if __name__ == "__main__":
    cli.run(main)
