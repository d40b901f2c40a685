"""DeepDreams a video (frame blending or optical flow), keeping its frame rate and audio; resumable.

    python -m run_scripts.deepdream_video --video=in.mp4 --output=dream.mp4 --mode=flow \
        --dream_layers=mixed3,mixed5 --num_iterations=5 --num_octaves=4 --learning_rate=0.012
    python -m run_scripts.deepdream_video --config=deepdream_video/configs.py:preview --video=in.mp4 --output=p.mp4
    python -m run_scripts.deepdream_video --video=in.mp4 --output=d.mp4 --guide=flowers.jpg --model=vgg16 --weights=imagenet
    python -m run_scripts.deepdream_video --model=efficientnet_b0 --list_layers

Flags carry the seeds' parameter names and override the --config preset (any field can also be set
as --config.NAME=VALUE). Running the same command again after an interruption resumes. Kept short
on purpose: the work is `deepdream_video.video.dream_video`.
"""
import math

from absl import flags

from videocore import cli

FLAGS = flags.FLAGS
cli.config_flag("deepdream_video/configs.py:default", "Preset: default (first seed), flow, blend, "
                "independent, preview, demo; fields overridable as --config.NAME=VALUE.")
flags.DEFINE_string("video", None, "Source video (required unless --list_layers).")
flags.DEFINE_string("output", None, "Output video (.mp4 / .mkv / .mov) (required unless --list_layers).")
flags.DEFINE_string("model", None, "Network: inception_v3 (default), vgg16, vgg19, resnet50v2, inception_resnet_v2, "
                    "efficientnet_b0.")
flags.DEFINE_string("weights", None, "auto (inception_v3: offline; others: imagenet), imagenet (Keras download), "
                    "a weights file, or random (tests).")
flags.DEFINE_bool("list_layers", False, "Print the chosen model's dreamable layers with their strides and exit.")
flags.DEFINE_string("guide", None, "Guide image: dream towards its features (guided objective).")
flags.DEFINE_float("learning_rate", None, "Mean change per iteration ([-1, 1] units).")
flags.DEFINE_integer("num_iterations", None, "Gradient steps per octave.")
flags.DEFINE_string("num_octaves", None, "Number of scales, or auto (4, fewer where the frame is too small).")
flags.DEFINE_float("octave_scale", None, "Size ratio between octaves (> 1).")
flags.DEFINE_integer("jitter", None, "Maximum random roll (pixels).")
flags.DEFINE_string("dream_layers", None, "Comma-separated layers (mixed0..mixed10 or inception_4c...).")
flags.DEFINE_string("channels", None, "Comma-separated channel indices to maximise (default all).")
flags.DEFINE_string("objective", None, "mean or l2.")
flags.DEFINE_string("predefined_start", None, "Image the first frame's dream starts from.")
flags.DEFINE_enum("mode", None, ["independent", "blend", "flow", "zoom"], "How frames are tied together.")
flags.DEFINE_float("zoom", None, "mode=zoom: zoom factor between frames, e.g. 1.05.")
flags.DEFINE_float("zoom_rotate", None, "mode=zoom: degrees turned between frames.")
flags.DEFINE_integer("frames", None, "mode=zoom: frames to make.")
flags.DEFINE_enum("blend", None, ["constant", "loop", "random"], "Blend schedule (mode=blend).")
flags.DEFINE_float("blend_value", None, "Raw-frame weight of the constant blend.")
flags.DEFINE_string("layer_schedule", None, "Layers to move up and down, one per frame ('' = off).")
flags.DEFINE_float("flow_decay", None, "Weight of the dream carried along the flow (mode=flow).")
flags.DEFINE_float("flow_refresh", None, "Learning-rate factor of frames after the first (mode=flow).")
flags.DEFINE_string("keyframes", None, "e.g. '0: learning_rate=0.01; 2s: learning_rate=0.03'.")
flags.DEFINE_float("start", None, "Start time (s).")
flags.DEFINE_float("end", None, "End time (s).")
flags.DEFINE_string("size", None, "Resize frames to WIDTHxHEIGHT.")
flags.DEFINE_bool("preview", None, "Half size, first 3 seconds.")
flags.DEFINE_integer("seed", None, "Random seed (jitter, random blend).")
flags.DEFINE_integer("preview_every", None, "Rewrite <output stem>.partial.mp4 every N frames (0 = off).")
flags.DEFINE_bool("side_by_side", None, "Write source | dream side by side.")
flags.DEFINE_string("shard", None, "i/N: dream the i-th (0-based) of N frame ranges (join with nv-deepdream-merge).")
flags.DEFINE_integer("warmup", None, "Frames a blend/flow shard dreams before its range, unwritten.")

OVERRIDES = ("model", "weights", "guide", "learning_rate", "num_iterations", "num_octaves", "octave_scale", "jitter",
             "dream_layers", "channels", "objective", "predefined_start", "mode", "blend", "blend_value",
             "layer_schedule", "flow_decay", "flow_refresh", "keyframes", "start", "end", "size", "preview", "seed",
             "preview_every", "side_by_side", "shard", "warmup", "zoom", "zoom_rotate", "frames")


def main(argv):
    del argv
    from deepdream_video import video
    from run_scripts import _deepdream

    config = _deepdream.prepare(FLAGS, OVERRIDES, required=("video", "output"))
    if config is None:
        return
    result = video.dream_video(config, FLAGS.video, FLAGS.output)
    warping = "" if math.isnan(result.warping_error) else (
        f"; warping error {result.warping_error:.5f}, mean change from the source {result.mean_change:.4f}")
    print(f"wrote {result.output}: {result.frames} frames {result.size[0]}x{result.size[1]} at {result.fps} fps, "
          f"{result.seconds_per_frame:.2f} s/frame{warping}")


def run():
    cli.run(main)


if __name__ == "__main__":
    run()
