"""Measures a processed video against its input: FID, PSNR, SSIM, temporal collapse, warping error.

  python -m run_scripts.metrics --a=out.mp4 --b=input.mp4 --metrics=fid,psnr,ssim,collapse,warp

--a is the output (dreamed, reconstructed, stylised), --b the input it was made from; either may
be a video file or a folder of images. Kept short on purpose: the work is `videocore.metrics.compare`.
"""
import json
import math

from absl import flags

from videocore import cli
from videocore import metrics
from videocore import video

FLAGS = flags.FLAGS
flags.DEFINE_string("a", None, "Output video or folder of frames.", required=True)
flags.DEFINE_string("b", None, "Input / reference video or folder of frames.", required=True)
flags.DEFINE_list("metrics", list(metrics.METRICS), f"Any of {', '.join(metrics.METRICS)}.")
flags.DEFINE_string("size", None, "Resize both to WIDTHxHEIGHT first (needed for psnr/ssim on different sizes).")
flags.DEFINE_integer("max_frames", None, "Use only the first N frames of each.")
flags.DEFINE_enum("flow", "dis", ["dis", "farneback"], "Optical flow for the warping error.")
flags.DEFINE_string("json", None, "Also write the results to this JSON file.")


def main(argv):
    del argv
    size = video.parse_size(FLAGS.size)
    results = metrics.compare(FLAGS.a, FLAGS.b, FLAGS.metrics, size=size, max_frames=FLAGS.max_frames,
                              flow=FLAGS.flow, progress=True)
    for name, value in results.items():
        print(f"{name}: {value:.6g}")
    if FLAGS.json:
        with open(FLAGS.json, "w") as file:
            # Strict JSON has no Infinity (PSNR of identical frames): write such values as strings.
            json.dump({name: value if math.isfinite(value) else str(value) for name, value in results.items()},
                      file, indent=2)


def run():
    cli.run(main)


if __name__ == "__main__":
    run()
