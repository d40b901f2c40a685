"""Reproduces "Autoencoding Video Frames" at the published size and writes docs/reproduction/vaegan.md.

    python -m reproduce.vaegan --steps=800                  # all three variants, 256x144
    python -m reproduce.vaegan --steps=1600                 # later: resume and extend the same runs
    python -m reproduce.vaegan --evaluate_only              # re-make the report from the runs
    python -m reproduce.vaegan --preset=tiny --steps=12 --video=<clip> --runs=/tmp/r --docs=/tmp/d

Variants, each trained for --steps steps on the first 80 % of the clip's frames (the last 20 %
are held out; the split is in seconds, config.data.end):
  a  `dissertation` with its noise schedule; the schedule's six "epochs" are stretched over the
     budget (config.data.steps_per_epoch = steps / 6) so every sigma of it is used;
  b  the same with a constant sigma 0.25 (4.5.1's "original build" improved on);
  c  the same with the pixel-wise MSE instead of the learned similarity.
Workdirs live in runs/reproduce_vaegan/<variant> (git-ignored): a later run resumes them and
trains on up to the new --steps. The evaluation reconstructs the whole clip with each run's newest
checkpoint; FID, PSNR, SSIM and the temporal-collapse ratio are taken on the held-out frames.
Figures (JPEG, < 300 KB each) go to docs/reproduction/vaegan/. `--preset=quick` is the cheap
comparison of the three variants that bench/eval_vaegan.py used to make.
"""

import pathlib

import numpy as np
from absl import flags

from videocore import cli  # (importing it quietens TensorFlow's C++ start-up lines)

from reproduce import report as reports

VARIANTS = {
    "a": ("dissertation, noise schedule", {}),
    "b": ("constant sigma 0.25", {"noise_schedule": (0.25,) * 6}),
    "c": ("pixel-wise MSE similarity", {"loss.similarity": "pixel"}),
}

FLAGS = flags.FLAGS
reports.define_run_flags("vaegan")
flags.DEFINE_string("video", str(reports.SHARED_DATA / "one-by-one-person-detection.mp4"),
                    "The clip to train on and hold frames out of.")
flags.DEFINE_integer("steps", 800, "Training steps per variant (the budget).")
flags.DEFINE_list("variants", ["a", "b", "c"], "Which variants: a (schedule), b (constant 0.25), c (pixel MSE).")
flags.DEFINE_enum("preset", "dissertation", ["dissertation", "quick", "tiny"],
                  "Model size: the published 256x144, or quick / tiny to test this script.")
flags.DEFINE_float("holdout", 0.2, "Fraction of the clip, at its end, never trained on.")
flags.DEFINE_integer("every", 0, "Frames between the columns of the comparison strips (0: 8 columns per strip).")


def variant_config(key, steps, train_end):
    """The config of variant `key`: --preset with the stretched schedule and the variant's overrides."""
    from vaegan_video import configs

    config = configs.get_config(FLAGS.preset)
    config.data.videos = (FLAGS.video,)
    config.data.end = train_end
    config.data.cache_dir = FLAGS.cache_dir
    if FLAGS.preset == "dissertation":
        config.noise_schedule = configs.dissertation().noise_schedule
    else:  # quick / tiny: the published schedule too, so the variants mean the same at any size
        config.noise_schedule = (0.25, 0.25, 0.01, 0.01, 0.05, 0.05)
    reports.apply_overrides(config, VARIANTS[key][1])
    epochs = len(config.noise_schedule)
    # Every schedule entry gets steps / epochs steps: one sample grid (Figures 5.1-5.6) per "epoch".
    config.data.steps_per_epoch = max(1, steps // epochs)
    config.loop.num_epochs, config.loop.num_steps = 0, steps
    config.loop.sample_every_steps = config.data.steps_per_epoch
    config.loop.checkpoint_every_steps = config.data.steps_per_epoch
    config.num_samples = 6
    return config


def strip(originals, outputs, picks, layout):
    from videocore import summaries

    if layout == "rows":  # film on top, reconstruction below (Figures 6.2-6.4)
        return summaries.image_grid(np.concatenate([originals[picks], outputs[picks]]), columns=len(picks))
    pairs = np.stack([originals[picks], outputs[picks]], axis=1).reshape(-1, *originals.shape[1:])
    return summaries.image_grid(pairs, columns=min(4, 2 * len(picks)))  # alternating (Figures 5.7-5.8)


def reconstruct_frames(config, workdir, frames, batch_size=24):
    """(originals, reconstructions) uint8 at the model's size for the frame indices `frames` (sorted) of
    --video, cropped as the run trained; only those frames go through the model."""
    from videocore import data
    from vaegan_video import reconstruct

    aspect, _, _ = reconstruct.framing(config, workdir, FLAGS.video, 0.0, None)
    model = reconstruct.Autoencoder(config, workdir)
    wanted, originals, position = set(frames), [], 0
    for batch in data.ordered_batches(FLAGS.video, 64, "uint8", size=model.size, aspect=aspect):
        batch = batch.numpy()
        originals += [frame for offset, frame in enumerate(batch) if position + offset in wanted]
        position += len(batch)
    originals = np.stack(originals)
    outputs = np.concatenate([model(originals[i:i + batch_size]).numpy()
                              for i in range(0, len(originals), batch_size)])
    return originals, outputs


def evaluate(key, config, workdir, figures, held_out_start):
    """Figures and held-out metrics of one variant's newest checkpoint; returns a dict of results."""
    from PIL import Image

    from videocore import metrics
    from videocore import video

    info = video.probe(FLAGS.video)
    count = int(info.frame_count)
    split = min(count - 2, int(round(held_out_start * float(info.fps))))
    half = split // 2  # Figures 5.7 / 5.8: the first and second half of the training span
    every = FLAGS.every or max(1, half // 8)
    wanted = set(range(0, half, every)[:8]) | set(range(half, split, every)[:8]) | set(range(split, count))
    originals, outputs = reconstruct_frames(config, workdir, sorted(wanted))
    index = {frame: row for row, frame in enumerate(sorted(wanted))}
    held_out = [index[i] for i in range(split, count) if i in index]
    test_real, test_fake = originals[held_out], outputs[held_out]
    results = {
        "frames": len(test_real),
        "fid": metrics.fid(test_fake, test_real),
        "psnr": metrics.psnr(test_fake, test_real),
        "ssim": metrics.ssim(test_fake, test_real) if min(test_real.shape[1:3]) > 10 else float("nan"),
        "collapse": metrics.temporal_collapse_ratio(test_fake, test_real),
        "step_time": reports.step_time(workdir),
    }
    names = {}
    grids = sorted((pathlib.Path(workdir) / "samples" / "x_xbar_xp").glob("*.png"))
    per_epoch = config.data.steps_per_epoch
    for epoch in range(1, len(config.noise_schedule) + 1):  # Figures 5.1-5.6: after each "epoch"
        grid = pathlib.Path(workdir) / "samples" / "x_xbar_xp" / f"{epoch * per_epoch:08d}.png"
        if grid.exists():
            names[f"5.{epoch}"] = reports.save_jpeg(figures / f"{key}_fig5_{epoch}.jpg", np.asarray(Image.open(grid))[..., :3])
    if grids and not names:
        names["5.x"] = reports.save_jpeg(figures / f"{key}_fig5_last.jpg", np.asarray(Image.open(grids[-1]))[..., :3])
    rows_of = lambda frames: np.array([index[i] for i in frames])  # noqa: E731
    names["5.7"] = reports.save_jpeg(figures / f"{key}_fig5_7.jpg", strip(originals, outputs,
                                                                   rows_of(range(0, half, every)[:8]), "alternating"))
    names["5.8"] = reports.save_jpeg(figures / f"{key}_fig5_8.jpg", strip(originals, outputs,
                                                                   rows_of(range(half, split, every)[:8]), "alternating"))
    collapse_every = max(1, (len(test_real) - 1) // 7)
    picks = np.asarray(held_out)[np.arange(0, len(test_real), collapse_every)[:8]]
    names["6.4"] = reports.save_jpeg(figures / f"{key}_fig6_4.jpg", strip(originals, outputs, picks, "rows"))
    results["figures"] = names
    results["every"], results["collapse_every"] = every, collapse_every
    return results


def report(rows, command, docs, train_end, duration):
    """docs/vaegan.md: per variant the budget, a table of held-out metrics and the figures."""
    model = rows[0][2].model
    lines = [
        f"# Reproducing \"Autoencoding Video Frames\" (VAE-GAN, {model.width}x{model.height})",
        "",
        f"Clip: `{pathlib.Path(FLAGS.video).name}`; trained on 0-{train_end:.1f} s, metrics on the held-out "
        f"{train_end:.1f}-{duration:.1f} s (last {FLAGS.holdout:.0%}). Preset `{FLAGS.preset}`.",
        "",
        "Command (re-run it with a larger `--steps` to resume and extend the runs in `runs/reproduce_vaegan/`):",
        "",
        "```",
        command,
        "```",
        "",
        "FID: Inception pool features of the held-out reconstructions against the held-out frames (few frames:",
        "biased upwards, compare between variants only). Collapse ratio: the reconstructions' frame-to-frame",
        "change over the film's (1 = motion kept, 0 = one frozen frame, the dissertation's 6.1 \"collapsing",
        "representations\"). Step time: median of the run's logged steps on this machine, whatever else ran.",
        "",
    ]
    for key, name, config, steps, results in rows:
        lines += [f"## ({key}) {name}", "",
                  f"Budget: {steps} steps trained of {config.loop.num_steps}; {config.data.steps_per_epoch} steps per "
                  f"schedule entry, sigma {tuple(config.noise_schedule)}; similarity `{config.loss.similarity}`.", "",
                  "| held-out frames | FID | PSNR (dB) | SSIM | collapse ratio | step time (s) |",
                  "|---|---|---|---|---|---|"]
        step_seconds = "n/a" if results["step_time"] is None else f"{results['step_time']:.2f}"
        lines += [f"| {results['frames']} | {results['fid']:.1f} | {results['psnr']:.2f} | {results['ssim']:.3f} | "
                  f"{results['collapse']:.3f} | {step_seconds} |", ""]
        figures = results["figures"]
        for label in sorted(f for f in figures if f.startswith("5.") and f not in ("5.7", "5.8")):
            lines.append(f"Figure {label} (after \"epoch\" {label[2:]}; rows x, x_bar, x_p):")
            lines += ["", f"![{key} {label}](vaegan/{figures[label].name})", ""]
        lines += [f"Figures 5.7 / 5.8 (first / second half, every {results['every']} frames; real then "
                  "reconstructed):", "",
                  f"![{key} 5.7](vaegan/{figures['5.7'].name})", "", f"![{key} 5.8](vaegan/{figures['5.8'].name})", "",
                  f"Figure 6.4 style (held-out frames every {results['collapse_every']}; film on top, "
                  "reconstruction below):", "", f"![{key} 6.4](vaegan/{figures['6.4'].name})", ""]
    path = docs / "vaegan.md"
    budgets = [f"{steps} steps per variant" for steps in sorted({row[3] for row in rows})]
    return reports.write_report(path, lines, reports.kept_section(path, CLAIMS_HEADING, CLAIMS_TEMPLATE, budgets))


CLAIMS_HEADING = "## Which of the dissertation's claims hold"
CLAIMS_TEMPLATE = [  # the placeholder of the kept, hand-written section
    "- 4.5.1: a falling noise schedule reduces temporal collapse (a vs b): _to be written from the table and "
    "figures above_.",
    "- 4.3.3: the learned similarity gives sharper reconstructions than pixel MSE (a vs c): _to be written_.",
    "- 6.1: static shots collapse into one representation (Figure 6.4 strips): _to be written_.",
    "- 6.2: training is stable with the clipped objectives (losses in each run's TensorBoard): _to be written_."]


def main(argv):
    del argv
    from videocore import errors
    from videocore import video
    from vaegan_video import train

    cli.check_flags(choices=[("variants", VARIANTS)], positive=["steps"], fractions=["holdout"])
    info = video.probe(FLAGS.video)
    train_end = round(float(info.duration) * (1 - FLAGS.holdout), 3)
    runs, docs = pathlib.Path(FLAGS.runs), pathlib.Path(FLAGS.docs)
    command = reports.command_line("vaegan")
    for key in FLAGS.variants:
        name, _ = VARIANTS[key]
        workdir = runs / key
        config = variant_config(key, FLAGS.steps, train_end)
        if not FLAGS.evaluate_only:
            print(f"({key}) {name}: training to step {FLAGS.steps} in {workdir}", flush=True)
            result = train.train_and_evaluate(config, workdir, progress=False)
            if result.stopped_by:  # a signal: stop here, every run resumes from its checkpoint
                print(f"({key}) stopped by {result.stopped_by} at step {result.step}; run the same command "
                      "to resume", flush=True)
                return
        elif not (workdir / "checkpoints").is_dir():
            raise errors.CheckpointError(f"{workdir}: no run to evaluate; train it first (without --evaluate_only)")
        trained = reports.trained_steps(workdir)
        results = cached_results(workdir, trained)
        if results is None:
            results = evaluate(key, config, workdir, docs / "vaegan", train_end)
            save_results(workdir, trained, results)
        print(f"({key}) {name}: step {trained}, FID {results['fid']:.1f}, PSNR {results['psnr']:.2f} dB, SSIM "
              f"{results['ssim']:.3f}, collapse ratio {results['collapse']:.3f}", flush=True)
        # The report after every variant, with every variant evaluated so far (this run or an earlier one).
        rows = []
        for other in VARIANTS:
            other_dir = runs / other
            other_results = cached_results(other_dir, reports.trained_steps(other_dir)) if other_dir.is_dir() else None
            if other_results is not None:
                rows.append((other, VARIANTS[other][0], variant_config(other, FLAGS.steps, train_end),
                             reports.trained_steps(other_dir), other_results))
        print(f"wrote {report(rows, command.strip(), docs, train_end, float(info.duration))}", flush=True)


RESULTS_FILE = "reproduction.json"


def identity(trained):
    """What a variant's cached evaluation depends on besides its run: the checkpoint, the clip, the split."""
    return {"step": trained, "video": FLAGS.video, "holdout": FLAGS.holdout}


def cached_results(workdir, trained):
    """The results `evaluate` wrote for this checkpoint, clip and hold-out, or None (then evaluate again)."""
    results = reports.load_results(pathlib.Path(workdir) / RESULTS_FILE, identity(trained))
    if results is not None:
        results["figures"] = {label: pathlib.Path(name) for label, name in results["figures"].items()}
    return results


def save_results(workdir, trained, results):
    saved = {**results, "figures": {label: str(name) for label, name in results["figures"].items()}}
    reports.save_results(pathlib.Path(workdir) / RESULTS_FILE, identity(trained), saved)


if __name__ == "__main__":
    cli.run(main)
