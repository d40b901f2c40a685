"""DeepDream's video modes side by side: writes docs/reproduction/deepdream.md and the README's stills in docs/stills/.

    python -m reproduce.deepdream                       # both parts
    python -m reproduce.deepdream --parts=modes --seconds=1 --docs=/tmp/d --stills=/tmp/s   # a quick look

Two parts (--parts):
  modes   dreams --seconds of the bundled --clip (default: `bikes` from 3.1 s, one moving shot, no cut) in
          each of `independent`, `blend`, `flow` and `flow_plain` (half the dream carried, re-dreamed at full
          strength, as the second seed does), layers mixed3 + mixed5, 4 octaves x 5 iterations, and tabulates the warping error
          (videocore.metrics, Lai et al. 2018; lower = steadier) with a bootstrap interval over frame pairs,
          the frame-to-frame change, the mean change from the source (the dream's strength) and the source's
          own warping error (the floor that flow errors leave). Figures in docs/reproduction/deepdream/: six
          consecutive frames of each mode from the middle of the shot (rows: source, independent, blend,
          flow) and an animated GIF (< 2 MB) of independent beside flow.
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
flags.DEFINE_float("start", 3.1, "Where in --clip to start (s); bikes holds one shot from 3.04 s to 5.44 s.")
flags.DEFINE_float("seconds", 2.0, "Length dreamed for the modes table.")
flags.DEFINE_string("size", "480x204", "Frame size of the modes table (bikes is 640x272).")
flags.DEFINE_string("docs", str(reports.REPO / "docs" / "reproduction"),
                    "The report goes to DOCS/deepdream.md, its figures to DOCS/deepdream/.")
flags.DEFINE_string("stills", str(reports.REPO / "docs" / "stills"), "Where the README's stills go.")

PARTS = ("modes", "stills")
STILL_CLIP, STILL_START, STILL_SIZE = "bigbuckbunny", 1.0, "384x216"
STILL_FRAME = 3  # loop blend: raw-frame weights 0.5, 0.6, 0.7, 0.8 ... -> 0.8 on frame 3, so the dream shows through
STILL_BYTES = 300 * 1024
GIF_BYTES = 2 * 1024 * 1024
GIF_FRAMES = 30  # the GIF's middle frames: fewer frames, larger pictures under GIF_BYTES
STRIP_FRAMES = 6


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


def frame_changes(frames):
    """Mean |frame t - frame t-1| per value (0-255) of every consecutive pair, as an array."""
    frames = np.asarray(frames, np.float32)
    return np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2, 3))


def save_gif(path, left, right, fps, max_bytes=GIF_BYTES):
    """An animated GIF of `left` | `right` (each (T, H, W, 3) uint8) at `fps`, shrunk by 3/4 until under `max_bytes`."""
    import io

    from PIL import Image

    from videocore import files

    frames = np.concatenate([left, np.full_like(left[:, :, :4], 255), right], axis=2)
    pictures = [Image.fromarray(frame) for frame in frames]
    for _ in range(8):
        buffer = io.BytesIO()
        pictures[0].save(buffer, "GIF", save_all=True, append_images=pictures[1:], duration=round(1000 / fps), loop=0)
        if buffer.tell() < max_bytes:
            path.parent.mkdir(parents=True, exist_ok=True)
            with files.atomic_path(path) as temp:
                temp.write_bytes(buffer.getvalue())
            return path
        pictures = [picture.resize((picture.width * 3 // 4, picture.height * 3 // 4), Image.LANCZOS)
                    for picture in pictures]
    raise ValueError(f"{path}: cannot get the GIF under {max_bytes} bytes")


def modes(docs):
    """Dreams the clip in every mode; writes the table, the strip and the GIF; returns the report's lines."""
    from deepdream_video import video as dream_videos
    from videocore import summaries
    from videocore import video

    clip = video.sample_clip(FLAGS.clip)
    width, height = video.parse_size(FLAGS.size)
    sources = np.stack(list(video.read_frames(clip, start=FLAGS.start, end=FLAGS.start + FLAGS.seconds,
                                              size=(width, height))))
    floor = pair_warping_errors(sources, sources)
    rows, dreamed = [], {}
    with tempfile.TemporaryDirectory() as folder:
        for name, config in mode_configs():
            output = pathlib.Path(folder) / f"{name}.mp4"
            began = time.perf_counter()
            result = dream_videos.dream_video(config, clip, output, progress=False)
            seconds = time.perf_counter() - began
            frames = video.read_all(output)
            errors = pair_warping_errors(frames, sources[:len(frames)])
            rows.append((name, errors, frame_changes(frames), result.mean_change, result.seconds_per_frame))
            dreamed[name] = frames
            print(f"{name}: warping error {errors.mean():.5f}, mean change {result.mean_change:.4f}, "
                  f"{seconds:.0f} s", flush=True)
    independent = rows[0][1].mean()
    interval = lambda values, digits: reports.with_interval(values.mean(), reports.bootstrap_interval(values),  # noqa
                                                            digits)
    table = [["source (the floor)", interval(floor, 5), "–", interval(frame_changes(sources), 2), "0", "–"]]
    for name, errors, changes, strength, seconds in rows:
        table.append([f"`{name}`", interval(errors, 5), f"{errors.mean() / independent:.2f}x", interval(changes, 2),
                      f"{strength:.4f}", f"{seconds:.2f}"])
    shown = ("independent", "blend", "flow")
    middle = max(0, min(len(sources), *(len(dreamed[name]) for name in shown)) // 2 - STRIP_FRAMES // 2)
    picks = slice(middle, middle + STRIP_FRAMES)
    strip = summaries.image_grid(np.concatenate([sources[picks]] + [dreamed[name][picks] for name in shown]),
                                 columns=STRIP_FRAMES)
    strip_path = reports.save_jpeg(docs / "deepdream" / "modes_strip.jpg", strip)
    fps = float(video.probe(clip).fps)
    shown_frames = min(len(dreamed["independent"]), len(dreamed["flow"]))
    first = max(0, (shown_frames - GIF_FRAMES) // 2)
    gif_span = slice(first, first + GIF_FRAMES)
    gif_path = save_gif(docs / "deepdream" / "independent_vs_flow.gif", dreamed["independent"][gif_span],
                        dreamed["flow"][gif_span], fps)
    lines = [f"Clip: bundled `{clip.name}`, {FLAGS.seconds:g} s from {FLAGS.start:g} s at {width}x{height} "
             f"({len(sources)} frames); layers mixed3 + mixed5, 4 octaves x 5 iterations, the same for every mode. "
             "Warping error (lower = steadier): the mean over consecutive frame pairs. Frame change: the mean "
             "|frame t - frame t-1| per value (0-255); a dream that flickers changes far more than its source. "
             "Both with a 95 % bootstrap interval over the frame pairs. Strength: |dream - source| per channel "
             "in [0, 1] units. s / frame: dreaming only.", ""]
    lines += reports.table(["mode", "warping error", "vs independent", "frame change", "strength", "s / frame"],
                           table)
    lines += ["", f"Frames {middle}-{middle + STRIP_FRAMES - 1}, one row each: the source, then `independent`, "
              "`blend` and `flow`:", "", f"![modes side by side](deepdream/{strip_path.name})", "",
              f"`independent` (left) beside `flow` (right), frames {gif_span.start}-"
              f"{gif_span.start + min(GIF_FRAMES, shown_frames) - 1}:", "",
              f"![independent beside flow](deepdream/{gif_path.name})"]
    return lines + [""]


def stills():
    """The README's stills; returns the report's lines naming them."""
    from deepdream_video import configs
    from deepdream_video import plan as dream_plans
    from deepdream_video import schedules
    from deepdream_video import video as dream_videos
    from deepdream_video import workdir as dream_workdirs
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
            plan = dream_plans.for_video(config, clip, output)
            values = plan.frame_values(STILL_FRAME)
            dream_videos.dream_video(config, clip, output, progress=False)
            # The PNG the run wrote, not the H.264 output, so the still is not compressed twice.
            frame = dream_workdirs.WorkDir(plan.workdir, "").read_frame(STILL_FRAME)
            still = pathlib.Path(FLAGS.stills) / f"deepdream_{name}.jpg"
            reports.save_jpeg(still, frame, STILL_BYTES)
            blend = f", raw-frame weight {weight:.1f}" if config.mode == "blend" else ""
            line = (f"`{still.name}`: preset `{preset.__name__}`, layers {','.join(values['dream_layers'])}, objective "
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
