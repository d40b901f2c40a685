"""Trains relive next-frame predictors on ASL clips, makes every choice on validation clips, tests once on walk.mkv.

Its table and roll-out strip are what docs/reproduction/relive_predictor_table.md reports.

    python -m reproduce.relive_predictor --models=predictor --train_only            # one training per process:
    python -m reproduce.relive_predictor --models=predictor_zero_flow --train_only  # these can run side by side
    python -m reproduce.relive_predictor --models=seed --train_only
    python -m reproduce.relive_predictor --score_only                               # the table, from those runs
    python -m reproduce.relive_predictor [--steps=N] [--seed_steps=3000]            # train (or resume), then score
        [--train=A.mkv,B.mkv] [--validation=C.mkv] [--test=walk.mkv] [--frame_size=64]
        [--workdir=runs/reproduce_relive_predictor_<frame_size>]

Footage (reproduce/footage.py), split by whole clip: the 11 training ASL clips train (not the room
video), the 4 validation ASL clips are held out whole (data.validation_source) and every choice is
made on them, walk.mkv is the test clip, scored once at the end. Frames of --frame_size (the predictor
preset's 64x64 by default; the report's comparison runs are at --frame_size=32).
Every window of 2 + 10 consecutive frames (--hop apart) is scored: 2 frames given, then 10 each
predicted from the model's own earlier predictions.

Choices, on validation only:
  - the Lucas-Kanade gain: the untrained motion predictor (its network's output starts at zero, so it
    carries the Lucas-Kanade velocity of the last two frames on at predictor.velocity_gain) is scored
    at every --gains value; the gain with the best validation PSNR at roll-out step 5 is chosen, and
    the trained `predictor` trains at it. The DIS baseline's gain is chosen the same way;
  - each trained model's checkpoint: the one with the lowest validation roll-out error (eval.keep_best).

Rows (each on validation and on test):
  copy_last            copying the last given frame;
  untrained            the untrained start: Lucas-Kanade velocity carried on at the chosen gain;
  lucas_kanade_1       the same at gain 1;
  dis                  OpenCV's DIS optical flow (medium preset) from the last frame to the one before,
                       carried on at its chosen gain by the same backward warp. Like the motion
                       predictor, each rolled-out frame re-measures the flow between the two frames
                       before it, its own predictions included;
  predictor            relive/configs.py:predictor trained at the chosen gain (--steps);
  predictor_zero_flow  the same network, loss, augmentation and budget without the Lucas-Kanade input
                       (predictor.velocity="none": it starts at copying the last frame);
  seed                 the poster's LSTM predictor (relive/configs.py:seed, teacher-forced, L2, its Adam)
                       with every width times --seed_width (1/4: filters 16-128, 256 LSTM units), clips of
                       2 + 10 frames of --frame_size, batch 8 (--seed_steps).
Scores: PSNR in dB of the mean squared error over windows (uint8 levels; pooled, so finite unless every
window is exact) and the mean SSIM over windows, at roll-out steps 1, 5 and 10, each with a 95 %
moving-block bootstrap interval over windows (blocks of --block consecutive windows: windows --hop 1
apart share frames). Written to <workdir>/predictor_table.json (with the per-window errors),
<workdir>/predictor_table.md and the strip <workdir>/predictor_rollout.jpg. Runs live in <workdir>/<model>
and resume from there.
"""

import functools
import json
import pathlib
import time

from absl import flags
import numpy as np
import PIL.Image

from videocore import cli  # (before TensorFlow loads: it quiets TF's start-up chatter)

import tensorflow as tf

from relive import configs
from relive import evaluate
from relive import inputs
from relive import models
from relive import motion
from relive import sample
from relive import train
from reproduce import footage
from reproduce import report as reports
from videocore import checkpoint
from videocore import errors
from videocore import files
from videocore import flow
from videocore import framestore
from videocore import summaries

CONTEXT, STEPS = 2, (1, 5, 10)
CHOICE_STEP = 5  # the roll-out step whose validation PSNR chooses the gains
FRAME_SIZE = configs.predictor().clip.frame_size
SPLITS = ("validation", "test")
PSNR_TEXT = ("PSNR: dB of the mean over windows of each window's squared error (uint8 levels), never inf unless "
             "every window is exact; SSIM: mean over windows")
STRIP_ROWS = ("copy_last", "untrained", "predictor", "predictor_zero_flow", "seed", "dis")


# ----------------------------------------------------------------------------- configs of the trained models


def _held_out_by_clip(config, args):
    """The footage split and the validation early stopping every trained model shares."""
    config.data.source = args.train
    config.data.validation_source = args.validation
    config.data.holdout_fraction = 0.0
    config.eval.clips = 64
    config.eval.rollout_steps = STEPS
    config.eval.context_frames = CONTEXT
    config.eval.keep_best = True
    config.loop.eval_every_steps = args.eval_every
    config.loop.checkpoint_every_steps = args.eval_every
    config.loop.log_every_steps = args.log_every
    config.loop.sample_every_steps = config.loop.num_steps
    config.loop.histogram_every_steps = 0
    return config


def predictor_config(args, gain):
    config = configs.predictor()
    config.clip.frame_size = args.frame_size
    config.loop.num_steps = args.steps
    config.predictor.velocity_gain = gain
    return _held_out_by_clip(config, args)


def zero_flow_config(args, gain):
    config = predictor_config(args, gain)
    config.predictor.velocity = "none"  # no Lucas-Kanade input: the zero output copies the last frame
    return config


def seed_config(args, gain):
    """The poster's LSTM predictor scaled by one rule: every width (filters and LSTM units) times
    --seed_width; its optimizer, loss and teacher forcing as in the poster; clips as the predictor's."""
    del gain
    config = configs.seed()
    config.model = "predictor"
    spec = config.predictor
    spec.filters = tuple(max(1, round(width * args.seed_width)) for width in spec.filters)
    spec.units = max(1, round(spec.units * args.seed_width))
    config.clip.num_frames = CONTEXT + max(STEPS)
    config.clip.frame_size = args.frame_size
    config.loop.batch_size = 8
    config.loop.num_steps = args.seed_steps
    return _held_out_by_clip(config, args)


TRAINED = {"predictor": predictor_config, "predictor_zero_flow": zero_flow_config, "seed": seed_config}


def labels(gains, seed_width):
    """Table names of the rows."""
    return {"copy_last": "copy the last frame",
            "untrained": f"untrained start: Lucas-Kanade x {gains['lucas_kanade']:g}",
            "lucas_kanade_1": "Lucas-Kanade x 1",
            "dis": f"DIS flow x {gains['dis']:g}",
            "predictor": "predictor (trained)",
            "predictor_zero_flow": "same net, no Lucas-Kanade input",
            "seed": f"poster's LSTM (widths x {seed_width:g})"}


# ----------------------------------------------------------------------------- footage and baselines


def windows_of(source, hop, size=FRAME_SIZE):
    """Every 2 + 10-frame window of every video of `source` (a relive data.source string), hop frames
    apart, video after video, frames size x size: (N, 12, size, size, 3) uint8."""
    windows = []
    for path in inputs.source_paths(source):
        store = framestore.FrameStore.open_or_build(path, size=(size, size), aspect="1:1",
                                                    progress=False)
        windows.append(evaluate.video_windows(store.frames, CONTEXT + max(STEPS), hop=hop))
    return np.concatenate(windows)


def lucas_kanade_start(gain, size=FRAME_SIZE):
    """The untrained motion predictor at velocity gain `gain` on frames size x size: Lucas-Kanade velocity
    carried on."""
    config = configs.predictor()
    config.clip.frame_size = size
    config.predictor.velocity_gain = gain
    return motion.motion_predictor(config)


class FlowExtrapolation:
    """Next frame = the last frame carried on by the optical flow between the last two frames, at `gain`.

    The flow is OpenCV's DIS (videocore.flow, medium preset) from the last frame to the one before:
    last(p) ~ previous(p + f(p)), so the next frame is last(p + gain * f(p)), the backward warp the
    untrained motion predictor makes of its Lucas-Kanade velocity (v = -f). The same `step` interface as
    relive's predictors, so evaluate.rollout_frames rolls it out: after the first predicted frame the
    flow is measured between the frames predicted before, as MotionPredictor re-measures its velocity.
    """

    def __init__(self, gain):
        self.gain = float(gain)

    def step(self, frames, state=None, training=False):
        """frames (B, t, H, W, 3) in [-1, 1] and the frame before them (B, 1, H, W, 3) or None (the first
        frame repeated: no motion yet) -> (next frames (B, t, H, W, 3) float32, state)."""
        del training
        frames = np.asarray(frames, np.float32)
        history = np.concatenate([frames[:, :1] if state is None else np.asarray(state), frames], axis=1)
        levels = (history + 1.0) * 127.5  # (B, t + 1, H, W, 3) in [0, 255]
        gray = np.clip(np.rint(levels), 0, 255).astype(np.uint8)  # what OpenCV's flow reads
        following = np.empty_like(frames)
        for batch, index in np.ndindex(*frames.shape[:2]):
            backward = flow.optical_flow(gray[batch, index + 1], gray[batch, index])
            following[batch, index] = flow.warp(levels[batch, index + 1], self.gain * backward)
        return np.clip(following / 127.5 - 1.0, -1.0, 1.0), history[:, -1:]


def copy_last(windows):
    """(N, 12, H, W, 3) uint8 -> the last given frame repeated (N, 10, H, W, 3)."""
    return np.repeat(windows[:, CONTEXT - 1:CONTEXT], max(STEPS), axis=1)


def rolled_out(predictor, windows):
    """A predictor's roll-out after the 2 given frames of every window: (N, 10, H, W, 3) uint8."""
    # Frames of 32x32: a few hundred windows fit one batch, and eager steps cost per call, not per window.
    return evaluate.rollout_frames(predictor, windows, CONTEXT, max(STEPS), batch_size=512)


# ----------------------------------------------------------------------------- scores and intervals


def frame_ssim(a, b):
    """SSIM of every frame pair, as videocore.metrics.ssim scores them (it returns their mean):
    a, b (N, H, W, 3) uint8 -> (N,) float."""
    return tf.image.ssim(tf.constant(a), tf.constant(b), max_val=255, filter_size=11, filter_sigma=1.5,
                         k1=0.01, k2=0.03).numpy().astype(np.float64)


def window_scores(predicted, windows):
    """Per-window scores of a roll-out: predicted (N, 10, H, W, 3) uint8 against the true frames of
    `windows` (N, 12, H, W, 3) uint8 -> {"mse": (N, len(STEPS)) squared error in uint8 levels,
    "ssim": (N, len(STEPS))}, column k for roll-out step STEPS[k]."""
    picks = [step - 1 for step in STEPS]
    guess = predicted[:, picks]
    truth = windows[:, CONTEXT:][:, picks]
    mse = np.mean(np.square(guess.astype(np.float64) - truth), axis=(2, 3, 4))
    size = guess.shape[2:]
    ssim = frame_ssim(guess.reshape((-1,) + size), truth.reshape((-1,) + size)).reshape(mse.shape)
    return {"mse": mse, "ssim": ssim}


def pooled_psnr(mse):
    """dB of the mean of per-window squared errors (N,) in uint8 levels (peak 255); inf only when all are 0."""
    mean = float(np.mean(mse))
    return float("inf") if mean == 0 else float(10 * np.log10(255.0 ** 2 / mean))


def summary(scores, block):
    """{"psnr_k": dB, "psnr_k_interval": [low, high], "ssim_k": .., "ssim_k_interval": ..} of per-window
    scores, k in STEPS; intervals are reports.bootstrap_interval's, over blocks of `block` windows."""
    row = {}
    for column, step in enumerate(STEPS):
        mse, ssim = scores["mse"][:, column], scores["ssim"][:, column]
        row[f"psnr_{step}"] = pooled_psnr(mse)
        # The interval of the mean squared error, in dB (a monotone map: the same resamples' percentiles).
        low, high = reports.bootstrap_interval(mse, block=block)
        row[f"psnr_{step}_interval"] = [pooled_psnr(high), pooled_psnr(low)]
        row[f"ssim_{step}"] = float(np.mean(ssim))
        row[f"ssim_{step}_interval"] = list(reports.bootstrap_interval(ssim, block=block))
    return row


def choose_gain(make, windows, gains):
    """The gain whose predictor make(gain) has the best PSNR at roll-out step CHOICE_STEP on `windows`
    -> (gain, {gain: dB})."""
    column = STEPS.index(CHOICE_STEP)
    psnrs = {gain: pooled_psnr(window_scores(rolled_out(make(gain), windows), windows)["mse"][:, column])
             for gain in gains}
    return max(psnrs, key=psnrs.get), psnrs


def headline(table, split, step=CHOICE_STEP):
    """Where the trained predictor's PSNR lead over copying the last frame (at roll-out `step` on `split`)
    comes from: {"lead": trained - copy, "from_start": untrained - copy, "from_training": trained - untrained},
    each {"db": value, "interval": [low, high]}: dB, 95 % moving-block bootstrap with the windows of the
    three rows resampled together; and "start_share": from_start / lead."""
    column = table["rollout_steps"].index(step)
    per_window = table["per_window"][split]
    mse = np.stack([np.asarray(per_window[name]["mse"])[:, column] for name in ("copy_last", "untrained", "predictor")],
                   axis=1)  # (N, 3)
    pairs = {"lead": (2, 0), "from_start": (1, 0), "from_training": (2, 1)}
    result = {}
    for name, (better, worse) in pairs.items():
        def difference(values, better=better, worse=worse):
            return pooled_psnr(values[:, better]) - pooled_psnr(values[:, worse])

        result[name] = {"db": difference(mse),
                        "interval": list(reports.bootstrap_interval(mse, statistic=difference, block=table["block"]))}
    result["start_share"] = result["from_start"]["db"] / result["lead"]["db"] if result["lead"]["db"] else None
    return result


def table_lines(table):
    """The markdown table of a predictor_table.json: model | split | PSNR k | SSIM k, "value [low, high]" cells."""
    header = ["model", "split"] + [f"PSNR {k}" for k in STEPS] + [f"SSIM {k}" for k in STEPS]
    rows = []
    for split in SPLITS:
        for name, row in table["rows"][split].items():
            rows.append([table["labels"][name], split]
                        + [reports.with_interval(row[f"psnr_{k}"], row[f"psnr_{k}_interval"]) for k in STEPS]
                        + [reports.with_interval(row[f"ssim_{k}"], row[f"ssim_{k}_interval"], digits=3)
                           for k in STEPS])
    intro = (f"{PSNR_TEXT}; roll-out step k = the k-th frame predicted after {CONTEXT} given. [low, high]: 95 % "
             f"moving-block bootstrap over windows (blocks of {table['block']}). Windows: "
             + ", ".join(f"{table['windows'][split]} {split}" for split in SPLITS) + ".")
    return [intro, ""] + reports.table(header, rows)


def strip_image(window, predictions, path, scale=2):
    """A JPEG of one window: a row of true frames, then one row per model ({name: (10, H, W, 3) uint8}),
    each with the last given frame and roll-out steps 1, 5, 10."""
    picks = [step - 1 for step in STEPS]
    rows = [np.concatenate([window[CONTEXT - 1:CONTEXT], window[CONTEXT:][picks]])]
    rows += [np.concatenate([window[CONTEXT - 1:CONTEXT], frames[picks]]) for frames in predictions.values()]
    grid = summaries.image_grid(np.concatenate(rows), columns=len(picks) + 1)
    image = PIL.Image.fromarray(grid).resize((grid.shape[1] * scale, grid.shape[0] * scale), PIL.Image.NEAREST)
    with files.atomic_path(path) as temp:
        image.save(temp, format="JPEG", quality=90)


# ----------------------------------------------------------------------------- training and loading


def train_model(args, name, gain, root):
    """Trains (or resumes) model `name` in root/name; prints and returns its facts."""
    config = TRAINED[name](args, gain)
    start = time.time()
    result = train.train_and_evaluate(config, root / name)
    minutes = (time.time() - start) / 60
    step_time = reports.step_time(root / name)
    print(f"{name}: {result.step} steps ({minutes:.1f} min in this process), median step "
          f"{reports.number(step_time, 3)} s")
    return {"steps": result.step, "minutes": round(minutes, 2)}


def check_trained(workdir, name):
    """CheckpointError unless `workdir` holds a run of `name` with a best validation checkpoint."""
    if not (workdir / train.BEST).is_dir():
        raise errors.CheckpointError(f"{workdir}: no trained {name} run with a best checkpoint; train it first "
                                     f"(--models={name} --train_only)")


def load_best(args, name, gain, root):
    """Model `name`'s best validation checkpoint -> (predictor, its run's facts); CheckpointError without one."""
    workdir = root / name
    check_trained(workdir, name)
    config = sample.run_config(TRAINED[name](args, gain), workdir)
    predictor = models.frame_predictor(config)
    restored = checkpoint.Checkpointer(workdir / train.BEST, {checkpoint.NETWORKS: {"predictor": predictor}},
                                       is_chief=False).restore()
    if restored is None:
        raise errors.CheckpointError(f"{workdir / train.BEST}: no best checkpoint")
    facts = {"workdir": str(workdir), "steps": reports.trained_steps(workdir),
             "best_step": checkpoint.checkpoint_step(restored), "step_time_s": reports.step_time(workdir)}
    if name == "predictor":
        facts["velocity_gain"] = float(config.predictor.velocity_gain)
        if facts["velocity_gain"] != gain:
            print(f"warning: {workdir} trained at gain {facts['velocity_gain']:g}, not the chosen {gain:g}")
    if name == "seed":
        facts["filters"], facts["units"] = list(config.predictor.filters), int(config.predictor.units)
    return predictor, facts


# ----------------------------------------------------------------------------- the script

FLAGS = flags.FLAGS


def define_flags():
    """The command's flags, defined when it runs (not on import: the tests import this module beside other
    reproductions that define flags of the same names)."""
    flags.DEFINE_string("train", ",".join(footage.train_clips(with_room=False)),
                        "Training footage (a relive data.source).")
    flags.DEFINE_string("validation", ",".join(footage.validation_clips()),
                        "Validation footage, held out whole: every choice is made on it.")
    flags.DEFINE_string("test", ",".join(footage.test_clips()), "Test footage, scored once.")
    flags.DEFINE_list("models", list(TRAINED), f"Trained models: any of {', '.join(TRAINED)}.")
    flags.DEFINE_list("gains", ["0.25", "0.5", "0.75", "1.0"], "Candidate velocity gains (chosen on validation).")
    flags.DEFINE_integer("steps", 1800, "Steps of each motion predictor (predictor, predictor_zero_flow).")
    flags.DEFINE_integer("seed_steps", 3000, "Steps of the poster's LSTM predictor.")
    flags.DEFINE_float("seed_width", 0.25, "Every width of the poster's LSTM predictor (filters, units) times this.")
    flags.DEFINE_integer("eval_every", 50, "Validation roll-out (early stopping) and checkpoint every this many steps.")
    flags.DEFINE_integer("log_every", 10, "Losses and step times logged every this many steps.")
    flags.DEFINE_integer("frame_size", FRAME_SIZE, "Frame side of every window and model (the preset's and the "
                         "seed's 64).")
    flags.DEFINE_integer("hop", 1, "Frames between scored windows.")
    flags.DEFINE_integer("block", 12, "Consecutive windows per bootstrap block (at hop 1, windows 12 apart share no "
                         "frame).")
    flags.DEFINE_bool("train_only", False, "Train (or resume) --models and stop.")
    flags.DEFINE_bool("score_only", False, "Train nothing: score the runs of --models already in --workdir.")
    flags.DEFINE_string("workdir", "", "Runs, the JSON and markdown tables and the strip go here (default "
                        "runs/reproduce_relive_predictor_<frame_size> in the repository).")


def main(argv):
    del argv
    args = FLAGS
    cli.check_flags(choices=[("models", TRAINED)], positive=["steps", "seed_steps", "seed_width", "eval_every",
                                                             "frame_size", "log_every", "hop", "block"])
    if args.train_only and args.score_only:
        raise errors.ConfigError("--train_only and --score_only exclude each other")
    try:
        gains = sorted({float(gain) for gain in args.gains})
    except ValueError:
        raise errors.ConfigError(f"--gains={','.join(args.gains)}: not numbers") from None
    root = pathlib.Path(args.workdir or reports.REPO / "runs" / f"reproduce_relive_predictor_{args.frame_size}")
    if args.score_only:
        for name in args.models:  # fail before any scoring work
            check_trained(root / name, name)

    validation = windows_of(args.validation, args.hop, args.frame_size)
    start = functools.partial(lucas_kanade_start, size=args.frame_size)
    chosen, gain_psnrs = {}, {}
    if not args.train_only or "predictor" in args.models:
        chosen["lucas_kanade"], gain_psnrs["lucas_kanade"] = choose_gain(start, validation, gains)
        print(f"Lucas-Kanade gain {chosen['lucas_kanade']:g} ({_choice_text(gain_psnrs['lucas_kanade'])})")
    gain = chosen.get("lucas_kanade", configs.predictor().predictor.velocity_gain)  # (only `predictor` uses it)
    runs = {}
    if not args.score_only:
        for name in args.models:
            runs[name] = train_model(args, name, gain, root)
    if args.train_only:
        return

    chosen["dis"], gain_psnrs["dis"] = choose_gain(FlowExtrapolation, validation, gains)
    print(f"DIS gain {chosen['dis']:g} ({_choice_text(gain_psnrs['dis'])})")
    predictors = {"untrained": start(gain), "lucas_kanade_1": start(1.0),
                  "dis": FlowExtrapolation(chosen["dis"])}
    for name in args.models:
        predictors[name], facts = load_best(args, name, gain, root)
        runs[name] = {**facts, **runs.get(name, {})}
    windows = {"validation": validation, "test": windows_of(args.test, args.hop, args.frame_size)}
    table = {"footage": {"train": args.train, "validation": args.validation, "test": args.test},
             "windows": {split: len(windows[split]) for split in SPLITS}, "frame_size": args.frame_size,
             "hop": args.hop, "block": args.block,
             "context_frames": CONTEXT, "rollout_steps": list(STEPS), "scores": PSNR_TEXT,
             "gain_choice": {"criterion": f"best validation PSNR at roll-out step {CHOICE_STEP}", "chosen": chosen,
                             "validation_psnr": {kind: {f"{candidate:g}": db for candidate, db in values.items()}
                                                 for kind, values in gain_psnrs.items()}},
             "labels": labels(chosen, args.seed_width), "rows": {}, "runs": runs, "per_window": {},
             "command": reports.command_line("relive_predictor", drop=("--score_only", "--train_only"))}
    for split in SPLITS:
        predictions = score_split(table, split, predictors, windows[split])
        if split == "test":  # the strip shows the middle test window
            middle = len(windows[split]) // 2
            shown = {name: predictions[name][middle] for name in STRIP_ROWS if name in predictions}
            strip_window = windows[split][middle]
    if "predictor" in predictors:
        table["headline"] = {split: headline(table, split) for split in SPLITS}
    write_outputs(table, root, strip_window, shown)


def _choice_text(psnrs):
    return f"validation PSNR {CHOICE_STEP}: " + ", ".join(f"{gain:g}: {db:.2f}" for gain, db in psnrs.items())


def score_split(table, split, predictors, windows):
    """Rolls copying and every predictor out on `windows` (N, 12, H, W, 3) uint8 and puts their rows and
    per-window scores into `table` under `split`; returns the roll-outs {name: (N, 10, H, W, 3) uint8}."""
    predictions = {"copy_last": copy_last(windows)}
    predictions.update({name: rolled_out(predictor, windows) for name, predictor in predictors.items()})
    scores = {name: window_scores(predicted, windows) for name, predicted in predictions.items()}
    table["rows"][split] = {name: summary(score, table["block"]) for name, score in scores.items()}
    table["per_window"][split] = {name: {key: np.round(values, 4).tolist() for key, values in score.items()}
                                  for name, score in scores.items()}
    return predictions


def write_outputs(table, root, window, shown):
    """Writes root/predictor_table.{json,md} and the strip of `window` and its roll-outs `shown`; prints the table."""
    root.mkdir(parents=True, exist_ok=True)
    with files.atomic_path(root / "predictor_table.json") as temp:
        temp.write_text(json.dumps(table, indent=1))
    lines = table_lines(table)
    with files.atomic_path(root / "predictor_table.md") as temp:
        temp.write_text("\n".join(lines) + "\n")
    strip_image(window, shown, root / "predictor_rollout.jpg")
    print()
    print("\n".join(lines))
    for split, parts in table.get("headline", {}).items():
        print(f"{split}, PSNR {CHOICE_STEP} (dB): " + "; ".join(
            f"{key} {reports.with_interval(parts[key]['db'], parts[key]['interval'])}"
            for key in ("lead", "from_start", "from_training")))
    print(f"strip rows: truth, {', '.join(shown)}; columns: last given frame, roll-out steps "
          f"{', '.join(map(str, STEPS))}: {root / 'predictor_rollout.jpg'}")
    print(f"wrote {root / 'predictor_table.json'} and {root / 'predictor_table.md'}")


if __name__ == "__main__":
    define_flags()
    cli.run(main)
