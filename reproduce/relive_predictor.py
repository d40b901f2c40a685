"""Trains relive next-frame predictors on some clips and scores their roll-outs on a video none of them saw.

Its table and roll-out strip are what docs/reproduction/relive_predictor_table.md reports.

    python -m reproduce.relive_predictor [--steps=400] [--seed_steps=100] [--models=predictor,seed]
        [--train=A.mp4,bundled:bikes] [--test=walk.mkv] [--workdir=runs/reproduce_relive_predictor]

Every model trains on --train (a relive data.source list; the last 10 % of each video is its
validation split, used by the `predictor` preset to keep its best checkpoint) and is then rolled
out on every window of --test: 2 frames given, then 10 frames each predicted from the model's own
earlier predictions. The table has PSNR (dB, pooled squared error) and SSIM at roll-out steps 1, 5
and 10, with copying the last given frame as the first row; it is also written as JSON
(`<workdir>/predictor_table.json`). Models (--models):
  seed                     the poster's LSTM predictor (relive/configs.py:seed), teacher-forced;
  seed_residual            the same predicting the change from the current frame (#8's variant);
  predictor                relive/configs.py:predictor, its best validation checkpoint;
  predictor_last           the same run's last checkpoint (what early stopping changed);
  predictor_untrained      the preset before any training: Lucas-Kanade velocity carried on at gain 0.5;
  predictor_l2             predictor trained on plain L2 instead of the per-frame log error;
  previous_predictor       the preset before the velocity input (learnt flow alone, L2 loss);
  predictor_teacher_forced predictor trained teacher-forced (predictor.train_context=0);
  predictor_no_flow        predictor with the learnt flow off (flow_scale=0);
  predictor_no_augment     predictor without flips and time reversal.
A workdir already holding a model's run resumes it (or just scores it when it has its steps).
"""

import json
import pathlib
import time

from absl import flags
import numpy as np
import PIL.Image

from videocore import cli  # (before TensorFlow loads: it quiets TF's start-up chatter)

from relive import configs
from relive import evaluate
from relive import inputs
from relive import models
from relive import sample
from relive import train
from reproduce import report as reports
from videocore import checkpoint
from videocore import errors
from videocore import files
from videocore import framestore
from videocore import summaries

SHARED = reports.SHARED_DATA
TRAIN = ",".join([str(SHARED / "one-by-one-person-detection.mp4"), "bundled:bikes", "bundled:carphone",
                  "bundled:bigbuckbunny"])
TEST = SHARED / "walk.mkv"
CONTEXT, STEPS = 2, (1, 5, 10)


def _seed(residual):
    def make(args):
        config = configs.seed()
        config.model = "predictor"
        config.predictor.residual = residual
        # The poster's networks and optimizer; clips and frames as the predictor preset's (2 given + 10
        # frames of 32x32) to fit the budget and to be scored on the same test windows.
        config.clip.num_frames = CONTEXT + max(STEPS)
        config.clip.frame_size = configs.predictor().clip.frame_size
        config.loop.batch_size = 8
        config.loop.num_steps = args.seed_steps
        return config
    return make


def _predictor(**overrides):
    def make(args):
        config = configs.predictor()
        config.loop.num_steps = args.steps
        for key, value in overrides.items():
            section, name = key.split(".")
            config[section][name] = value
        return config
    return make


# name: (how to make its config, which checkpoint to score: "best" or "last", the run it shares)
MODELS = {
    "seed": (_seed(False), "last", None),
    "seed_residual": (_seed(True), "last", None),
    "predictor": (_predictor(), "best", None),
    "predictor_last": (_predictor(), "last", "predictor"),
    "predictor_untrained": (_predictor(), "untrained", None),
    "predictor_l2": (_predictor(**{"predictor.loss": "l2"}), "best", None),
    "previous_predictor": (_predictor(**{"predictor.velocity": "none", "predictor.loss": "l2"}), "best", None),
    "predictor_teacher_forced": (_predictor(**{"predictor.train_context": 0}), "best", None),
    "predictor_no_flow": (_predictor(**{"predictor.flow_scale": 0.0}), "best", None),
    "predictor_no_augment": (_predictor(**{"predictor.flip": False, "predictor.reverse": False}), "best", None),
}


def train_model(args, name, root):
    """Trains (or resumes) model `name` in root/<run> -> (config, workdir, minutes, steps); an untrained
    model only gets its config (workdir None, 0 steps)."""
    make, which, shared = MODELS[name]
    config = make(args)
    config.data.source = args.train
    config.data.holdout_fraction = 0.1
    config.eval.clips = 64
    config.eval.rollout_steps = STEPS
    config.eval.context_frames = CONTEXT
    config.loop.eval_every_steps = args.eval_every
    config.loop.checkpoint_every_steps = args.eval_every
    config.loop.sample_every_steps = config.loop.num_steps
    config.loop.histogram_every_steps = 0
    if which == "untrained":
        return config, None, 0.0, 0
    workdir = root / (shared or name)
    start = time.time()
    result = train.train_and_evaluate(config, workdir)
    return config, workdir, (time.time() - start) / 60, result.step


def load_predictor(config, workdir, which):
    """The trained predictor of `workdir`: its latest checkpoint, with which="best" the one the
    validation roll-out kept (workdir/best), with which="untrained" a new one."""
    if which == "untrained":
        return models.frame_predictor(config)
    if which == "last":
        return sample.load_networks(config, workdir, "predictor")["predictor"]
    predictor = models.frame_predictor(config)
    restored = checkpoint.Checkpointer(workdir / train.BEST, {checkpoint.NETWORKS: {"predictor": predictor}},
                                       is_chief=False).restore()
    if restored is None:
        raise errors.CheckpointError(f"{workdir / train.BEST}: no best checkpoint (is eval.keep_best on?)")
    return predictor


def test_windows(args, size):
    paths = inputs.source_paths(args.test)  # a file, or bundled:<name>
    store = framestore.FrameStore.open_or_build(paths[0], size=(size, size), aspect="1:1", progress=False)
    return evaluate.video_windows(store.frames, CONTEXT + max(STEPS), hop=args.hop)


def strip_image(clip, predictions, path, scale=2):
    """A JPEG of one test window: a row of true frames, then one row per model ({name: (horizon, H, W, 3) uint8}),
    each with the last given frame and roll-out steps 1, 5, 10 (rows in order; labels in the docs)."""
    picks = [step - 1 for step in STEPS]
    rows = [np.concatenate([clip[CONTEXT - 1:CONTEXT], clip[CONTEXT:][picks]])]
    rows += [np.concatenate([clip[CONTEXT - 1:CONTEXT], frames[picks]]) for frames in predictions.values()]
    grid = summaries.image_grid(np.concatenate(rows), columns=len(picks) + 1)
    image = PIL.Image.fromarray(grid).resize((grid.shape[1] * scale, grid.shape[0] * scale), PIL.Image.NEAREST)
    with files.atomic_path(path) as temp:
        image.save(temp, format="JPEG", quality=90)


def table_lines(rows):
    """Markdown table lines of {name: {"psnr_k": .., "ssim_k": ..}}, rows in order."""
    header = ["model"] + [f"PSNR {k}" for k in STEPS] + [f"SSIM {k}" for k in STEPS]
    return reports.table(header, [[name] + [f"{scores[f'psnr_{k}']:.2f}" for k in STEPS]
                                  + [f"{scores[f'ssim_{k}']:.4f}" for k in STEPS] for name, scores in rows.items()])


FLAGS = flags.FLAGS
flags.DEFINE_string("train", TRAIN, "Training footage: a relive data.source list.")
flags.DEFINE_string("test", str(TEST), "Test video (not among the training footage).")
flags.DEFINE_list("models", "seed,predictor,predictor_last", f"Any of {', '.join(MODELS)}.")
flags.DEFINE_integer("steps", 400, "Steps of the predictor preset and its variants.")
flags.DEFINE_integer("seed_steps", 100, "Steps of the seed predictors.")
flags.DEFINE_integer("eval_every", 50, "Validation roll-out (and checkpoint) every this many steps.")
flags.DEFINE_integer("hop", 1, "Frames between test windows.")
flags.DEFINE_string("workdir", str(reports.REPO / "runs" / "reproduce_relive_predictor"),
                    "Runs and the JSON table go here.")


def main(argv):
    del argv
    args = FLAGS
    cli.check_flags(choices=[("models", MODELS)], positive=["steps", "seed_steps", "eval_every", "hop"])
    root = pathlib.Path(args.workdir)
    rows, runs, shown = {}, {}, {}
    for name in args.models:
        config, workdir, minutes, steps = train_model(args, name, root)
        predictor = load_predictor(config, workdir, MODELS[name][1])
        clips = test_windows(args, config.clip.frame_size)
        scores = evaluate.rollout_scores(predictor, clips, CONTEXT, STEPS)
        window = clips[len(clips) // 2]  # the strip shows the middle window of the test video
        if not shown:
            shown["copy_last"] = np.repeat(window[CONTEXT - 1:CONTEXT], max(STEPS), axis=0)
        shown[name] = evaluate.rollout_frames(predictor, window[None], CONTEXT, max(STEPS))[0]
        rows.setdefault("copy_last", scores["copy_last"])
        rows[name] = scores["predictor"]
        runs[name] = {"workdir": workdir and str(workdir), "steps": steps, "train_minutes": round(minutes, 2),
                      "checkpoint": MODELS[name][1], "frame_size": config.clip.frame_size}
        figures = ", ".join(f"{key} {value:.3f}" for key, value in scores["predictor"].items())
        print(f"{name}: {steps} steps, {minutes:.1f} min; {figures}")
    result = {"train": args.train, "test": args.test, "test_windows": len(clips), "context_frames": CONTEXT,
              "rollout_steps": list(STEPS), "rows": rows, "runs": runs, "command": reports.command_line("relive_predictor")}
    root.mkdir(parents=True, exist_ok=True)
    with files.atomic_path(root / "predictor_table.json") as temp:
        temp.write_text(json.dumps(result, indent=2))
    strip_image(window, shown, root / "predictor_rollout.jpg")
    print()
    print("\n".join(table_lines(rows)))
    print(f"strip rows: truth, {', '.join(shown)}; columns: last given frame, roll-out steps "
          f"{', '.join(map(str, STEPS))}: {root / 'predictor_rollout.jpg'}")
    print(f"\nwrote {root / 'predictor_table.json'}")


if __name__ == "__main__":
    cli.run(main)
