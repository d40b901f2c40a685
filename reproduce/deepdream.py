"""DeepDream's video modes side by side: writes docs/reproduction/deepdream.md and the README's stills in docs/stills/.

    python -m reproduce.deepdream                       # both parts
    python -m reproduce.deepdream --parts=modes --seconds=1 --docs=/tmp/d --stills=/tmp/s   # a quick look

Two parts (--parts):
  modes   dreams --seconds of the bundled --clip (default `bikes`: lots of motion) in each of `independent`,
          `blend`, `flow` and `flow_plain` (half the dream carried, re-dreamed at full strength, as the second
          seed does), layers mixed3 + mixed5, 4 octaves x 5 iterations, and tabulates the warping error
          (videocore.metrics, Lai et al. 2018; lower = steadier) with a bootstrap interval over frame pairs,
          the mean change from the source (the dream's strength) and the source's own warping error (the
          floor that flow errors leave). The middle frame of each mode goes to docs/reproduction/deepdream/.
  stills  the README's stills (docs/stills/deepdream_{blend,flow,independent}.jpg): frame STILL_FRAME of
          bigbuckbunny from 1 s at 384x216 with the default preset (the first seed: blend loop, layer
          schedule), the flow preset (the second seed) and independent frames, read from the run's own PNG
          so the still is not compressed twice.
This used to be bench/eval_dream.py and bench/stills_deepdream.py.
"""

import pathlib
import tempfile
import time

import numpy as np
from absl import flags

from videocore import cli  # (importing it quietens TensorFlow's C++ start-up lines)

from reproduce import report as reports

FLAGS = flags.FLAGS
flags.DEFINE_list("parts", ["modes", "stills"], "Which parts: modes (the table), stills (the README's stills).")
flags.DEFINE_string("clip", "bikes", "Bundled clip of the modes table.")
flags.DEFINE_float("start", 2.0, "Where in --clip to start (s); bikes' first 2 s hold a cut.")
flags.DEFINE_float("seconds", 2.0, "Length dreamed for the modes table.")
flags.DEFINE_string("size", "480x204", "Frame size of the modes table (bikes is 640x272).")
flags.DEFINE_string("docs", str(reports.REPO / "docs" / "reproduction"),
                    "The report goes to DOCS/deepdream.md, its figures to DOCS/deepdream/.")
flags.DEFINE_string("stills", str(reports.REPO / "docs" / "stills"), "Where the README's stills go.")

PARTS = ("modes", "stills")
STILL_CLIP, STILL_START, STILL_SIZE = "bigbuckbunny", 1.0, "384x216"
STILL_FRAME = 3  # loop blend: raw-frame weights 0.5, 0.6, 0.7, 0.8 ... -> 0.8 on frame 3, so the dream shows through
STILL_BYTES = 300 * 1024


def mode_configs():
    """(name, config) pairs: the video modes with the same dream settings, on --clip."""
    from deepdream_video import configs

    result = []
    for name, preset, flow in (("independent", configs.independent, None), ("blend", configs.blend, None),
                               ("flow", configs.flow, None), ("flow_plain", configs.flow, (0.5, 1.0))):
        config = preset()
        config.size, config.start, config.end = FLAGS.size, FLAGS.start, FLAGS.start + FLAGS.seconds
        if flow is not None:  # carry half the residual and re-dream at full strength
            config.flow_decay, config.flow_refresh = flow
        result.append((name, config))
    return result


def pair_warping_errors(outputs, sources):
    """The warping error of every consecutive pair of `outputs` (flow taken on `sources`), as an array."""
    from videocore import metrics

    return np.array([metrics.warping_error(outputs[i:i + 2], sources[i:i + 2]) for i in range(len(outputs) - 1)])


def modes(docs):
    """Dreams the clip in every mode; writes the table and the middle frames; returns the report's lines."""
    from deepdream_video import video as dream_videos
    from videocore import video

    clip = video.sample_clip(FLAGS.clip)
    width, height = video.parse_size(FLAGS.size)
    sources = np.stack(list(video.read_frames(clip, start=FLAGS.start, end=FLAGS.start + FLAGS.seconds,
                                              size=(width, height))))
    floor = pair_warping_errors(sources, sources)
    rows, figures = [], []
    with tempfile.TemporaryDirectory() as folder:
        for name, config in mode_configs():
            output = pathlib.Path(folder) / f"{name}.mp4"
            began = time.perf_counter()
            result = dream_videos.dream_video(config, clip, output, progress=False)
            seconds = time.perf_counter() - began
            frames = video.read_all(output)
            errors = pair_warping_errors(frames, sources[:len(frames)])
            rows.append((name, errors, result.mean_change, result.seconds_per_frame))
            print(f"{name}: warping error {errors.mean():.5f}, mean change {result.mean_change:.4f}, "
                  f"{seconds:.0f} s", flush=True)
            if name != "flow_plain":
                figures.append((name, reports.save_jpeg(docs / "deepdream" / f"{name}_middle.jpg",
                                                        frames[len(frames) // 2])))
    independent = rows[0][1].mean()
    table = [["source (the floor)", reports.with_interval(floor.mean(), reports.bootstrap_interval(floor), 5),
              "–", "0", "–"]]
    for name, errors, change, seconds in rows:
        table.append([f"`{name}`", reports.with_interval(errors.mean(), reports.bootstrap_interval(errors), 5),
                      f"{errors.mean() / independent:.2f}x", f"{change:.4f}", f"{seconds:.2f}"])
    lines = [f"Clip: bundled `{clip.name}`, {FLAGS.seconds:g} s from {FLAGS.start:g} s at {width}x{height} "
             f"({len(sources)} frames); layers mixed3 + mixed5, 4 octaves x 5 iterations. Warping error: the mean "
             "over consecutive frame pairs, with a 95 % bootstrap interval over the pairs. Mean change: "
             "|dream - source| per channel in [0, 1] units (the dream's strength). s / frame: dreaming only.", ""]
    lines += reports.table(["mode", "warping error", "vs independent", "mean change", "s / frame"], table)
    lines += ["", "The middle frame of each mode:", ""]
    lines += [f"![{name}](deepdream/{path.name})" for name, path in figures]
    return lines + [""]


def stills():
    """The README's stills; returns the report's lines naming them."""
    from deepdream_video import configs
    from deepdream_video import schedules
    from deepdream_video import video as dream_videos
    from videocore import video

    clip = video.sample_clip(STILL_CLIP)
    default = configs.default()
    weight = schedules.blend_value(default.blend, STILL_FRAME, low=default.blend_low, high=default.blend_high,
                                   step=default.blend_step)
    end = STILL_START + (STILL_FRAME + 1) / float(video.probe(clip).fps)
    lines = [f"The README's stills: frame {STILL_FRAME} of bundled `{clip.name}` from {STILL_START:g} s at "
             f"{STILL_SIZE}.", ""]
    with tempfile.TemporaryDirectory() as folder:
        for name, preset in (("blend", configs.default), ("flow", configs.flow), ("independent", configs.independent)):
            config = preset()
            config.size, config.start, config.end, config.warping_error = STILL_SIZE, STILL_START, end, False
            config.keep_workdir = True
            output = pathlib.Path(folder) / f"{name}.mp4"
            plan = dream_videos.Plan(config, clip, output)
            values = plan.frame_values(STILL_FRAME)
            dream_videos.dream_video(config, clip, output, progress=False)
            # The PNG the run wrote, not the H.264 output, so the still is not compressed twice.
            frame = dream_videos._WorkDir(output.with_name(output.name + ".work"), "").read_frame(STILL_FRAME)
            still = pathlib.Path(FLAGS.stills) / f"deepdream_{name}.jpg"
            reports.save_jpeg(still, frame, STILL_BYTES)
            blend = f", raw-frame weight {weight:.1f}" if config.mode == "blend" else ""
            line = (f"`{still.name}`: preset `{preset.__name__}`, layers {values['dream_layers']}, objective "
                    f"{config.objective}, {plan.num_octaves} octaves{blend}")
            print(f"saved {still} ({still.stat().st_size / 1024:.0f} KB): {line}", flush=True)
            lines.append(f"- {line}")
    return lines + [""]


def main(argv):
    del argv
    cli.check_flags(choices=[("parts", PARTS)], positive=["seconds"])
    docs = pathlib.Path(FLAGS.docs)
    lines = ["# DeepDream on video: the temporal modes side by side", "",
             "Command:", "", "```", reports.command_line("deepdream"), "```", ""]
    if "modes" in FLAGS.parts:
        lines += ["## Warping error per mode", "", *modes(docs)]
    if "stills" in FLAGS.parts:
        lines += ["## Stills", "", *stills()]
    path = docs / "deepdream.md"
    print(f"wrote {reports.write_report(path, lines, reports.kept_section(path, '## What this shows'))}")


if __name__ == "__main__":
    cli.run(main)
