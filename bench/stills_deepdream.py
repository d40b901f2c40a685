"""Stills of DeepDream presets for the README: the default preset (the first seed) and the flow mode.

Dreams the first frames of a bundled clip with each preset and saves one frame of each as a JPEG
in docs/stills/ (< 300 KB each, checked):
  deepdream_blend.jpg  the default preset (objective l2, blend loop, layer schedule inception_4c ->
                       5b and back) at frame BLEND_FRAME, whose raw-frame weight is 0.8 < 1, so the
                       previous dream shows through (its layer is printed);
  deepdream_flow.jpg   the flow preset (second seed), the same frame;
  deepdream_independent.jpg  every frame dreamed alone, the same frame.

    python bench/stills_deepdream.py [--clip=bigbuckbunny] [--start=1] [--size=384x216]
"""
import pathlib
import sys
import tempfile

from absl import app
from absl import flags
from PIL import Image

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from deepdream_video import configs  # noqa: E402
from deepdream_video import schedules  # noqa: E402
from deepdream_video import video as dream_video_lib  # noqa: E402
from videocore import video  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("clip", "bigbuckbunny", "Bundled clip.")
flags.DEFINE_float("start", 1.0, "Where in the clip to start (s).")
flags.DEFINE_string("size", "384x216", "Frame size.")
flags.DEFINE_string("stills", str(pathlib.Path(__file__).resolve().parents[1] / "docs" / "stills"),
                    "Where the stills go.")
BLEND_FRAME = 3  # loop blend: weights 0.5, 0.6, 0.7, 0.8 ... -> 0.8 on frame 3
STILL_QUALITY = 88
MAX_BYTES = 300 * 1024


def main(argv):
    del argv
    clip = video.sample_clip(FLAGS.clip)
    default = configs.default()
    weight = schedules.blend_value(default.blend, BLEND_FRAME, low=default.blend_low, high=default.blend_high,
                                   step=default.blend_step)
    assert weight < 1, weight
    end = FLAGS.start + (BLEND_FRAME + 1) / float(video.probe(clip).fps)
    with tempfile.TemporaryDirectory() as folder:
        for name, preset in (("blend", configs.default), ("flow", configs.flow), ("independent", configs.independent)):
            config = preset()
            config.size, config.start, config.end, config.warping_error = FLAGS.size, FLAGS.start, end, False
            config.keep_workdir = True
            output = pathlib.Path(folder) / f"{name}.mp4"
            run = dream_video_lib.Plan(config, clip, output)
            values = run.frame_values(BLEND_FRAME)
            dream_video_lib.dream_video(config, clip, output, progress=False)
            # The PNG the run wrote, not the H.264 output, so the still is not compressed twice.
            frame = dream_video_lib._WorkDir(output.with_name(output.name + ".work"), "").read_frame(BLEND_FRAME)
            still = pathlib.Path(FLAGS.stills) / f"deepdream_{name}.jpg"
            still.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(frame).save(still, quality=STILL_QUALITY)
            size = still.stat().st_size
            assert size < MAX_BYTES, (still, size)
            blend = f", raw-frame weight {weight:.1f}" if config.mode == "blend" else ""
            print(f"saved {still} ({size / 1024:.0f} KB): preset {preset.__name__}, frame {BLEND_FRAME}, layers "
                  f"{values['dream_layers']}, objective {config.objective}, {run.num_octaves} octaves{blend}")


if __name__ == "__main__":
    app.run(main)
