"""Temporal stability of the three video modes: warping error on a bundled clip, plus example stills.

For `independent`, `blend` and `flow` (and `flow_plain`: half the dream carried, re-dreamed at
full strength, as the second seed does), dreams two seconds of the bundled `bikes` clip (lots of
motion) with layers mixed3 + mixed5, 4 octaves x 5 iterations, and prints the warping error
(videocore.metrics, Lai et al. 2018; lower = steadier) next to the mean change from the source
(the dream's strength) and the source's own warping error (the floor left by flow errors).
Saves the middle frame of each mode as docs/stills/deepdream_<mode>.jpg.

    python bench/eval_dream.py [--start=2] [--seconds=2] [--size=480x204] [--stills=docs/stills]
"""
import pathlib
import sys
import tempfile
import time

from absl import app
from absl import flags
from PIL import Image

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from deepdream_video import configs  # noqa: E402
from deepdream_video import video as dream_video_lib  # noqa: E402
from videocore import metrics  # noqa: E402
from videocore import video  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_float("start", 2.0, "Where in the clip to start (s); bikes' first 2 s hold a cut.")
flags.DEFINE_float("seconds", 2.0, "Length of the clip dreamed.")
flags.DEFINE_string("size", "480x204", "Frame size (bikes is 640x272).")
flags.DEFINE_string("clip", "bikes", "Bundled clip.")
flags.DEFINE_string("stills", str(pathlib.Path(__file__).resolve().parents[1] / "docs" / "stills"),
                    "Where the example stills go ('' = none).")
STILL_QUALITY = 85  # JPEG quality: ~20-40 KB at 480x204


def variants():
    """(name, config) pairs: the three modes with the same dream settings."""
    result = []
    for name, preset, flow in (("independent", configs.independent, None), ("blend", configs.blend, None),
                               ("flow", configs.flow, None), ("flow_plain", configs.flow, (0.5, 1.0))):
        config = preset()
        config.size = FLAGS.size
        config.start = FLAGS.start
        config.end = FLAGS.start + FLAGS.seconds
        if flow is not None:  # carry half the residual and re-dream at full strength
            config.flow_decay, config.flow_refresh = flow
        result.append((name, config))
    return result


def main(argv):
    del argv
    clip = video.sample_clip(FLAGS.clip)
    width, height = video.parse_size(FLAGS.size)
    sources = list(video.read_frames(clip, start=FLAGS.start, end=FLAGS.start + FLAGS.seconds, size=(width, height)))
    floor = metrics.warping_error(sources, sources)
    print(f"{clip.name}: {len(sources)} frames at {width}x{height}; source's own warping error {floor:.5f}")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name, config in variants():
            output = pathlib.Path(folder) / f"{name}.mp4"
            began = time.perf_counter()
            result = dream_video_lib.dream_video(config, clip, output, progress=False)
            rows.append((name, result, time.perf_counter() - began))
            if FLAGS.stills and name in ("independent", "blend", "flow"):
                frames = video.read_all(output)
                still = pathlib.Path(FLAGS.stills) / f"deepdream_{name}.jpg"
                still.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(frames[len(frames) // 2]).save(still, quality=STILL_QUALITY)
                print(f"saved {still} ({still.stat().st_size / 1024:.0f} KB)")
    independent = rows[0][1].warping_error
    print(f"\n{'mode':16s} {'warping error':>13s} {'vs independent':>14s} {'mean change':>11s} {'s/frame':>8s}")
    for name, result, wall in rows:
        print(f"{name:16s} {result.warping_error:13.5f} {result.warping_error / independent:13.2f}x "
              f"{result.mean_change:11.4f} {result.seconds_per_frame:8.3f}")
    flow = dict((name, result) for name, result, _ in rows)["flow"]
    print(f"goal flow <= 0.5x independent: {'met' if flow.warping_error <= 0.5 * independent else 'NOT met'} "
          f"({flow.warping_error / independent:.2f}x; mean change {flow.mean_change:.4f} vs "
          f"{rows[0][1].mean_change:.4f} independent)")


if __name__ == "__main__":
    app.run(main)
