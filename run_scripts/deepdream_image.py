"""DeepDreams one picture into an image, or into a feedback-zoom video when the output is a video file.

    python -m run_scripts.deepdream_image --input=photo.jpg --output=dream.jpg --dream_layers=mixed5
    python -m run_scripts.deepdream_image --input=photo.jpg --output=zoom.mp4 --frames=100 --zoom=1.05 --zoom_rotate=1
    python -m run_scripts.deepdream_image --input=photo.jpg --output=guided.jpg --guide=flowers.jpg --model=vgg16

--input is an image file or a video (its frame at --config.start). Other dream settings as in
nv-deepdream (--config preset, --config.NAME=VALUE). Kept short on purpose: the work is
`deepdream_video.image`.
"""
import pathlib

from absl import flags

from videocore import cli

FLAGS = flags.FLAGS
cli.config_flag("deepdream_video/configs.py:zoom", "Preset (zoom: layers mixed3 + mixed5); fields overridable "
                "as --config.NAME=VALUE.")
flags.DEFINE_string("input", None, "Image file, or a video (its frame at --config.start) (required unless "
                    "--list_layers).")
flags.DEFINE_string("output", None, "Image file (.jpg/.png), or a video (.mp4/.mkv/.mov) for the zoom (required "
                    "unless --list_layers).")
flags.DEFINE_string("model", None, "Network: inception_v3 (default), vgg16, vgg19, resnet50v2, inception_resnet_v2, "
                    "efficientnet_b0.")
flags.DEFINE_string("weights", None, "auto (inception_v3: offline; others: imagenet), imagenet (Keras download), "
                    "a weights file, or random (tests).")
flags.DEFINE_bool("list_layers", False, "Print the chosen model's dreamable layers with their strides and exit.")
flags.DEFINE_string("guide", None, "Guide image: dream towards its features (guided objective).")
flags.DEFINE_string("dream_layers", None, "Comma-separated layers (mixed0..mixed10 or inception_4c...).")
flags.DEFINE_float("learning_rate", None, "Mean change per iteration ([-1, 1] units).")
flags.DEFINE_integer("num_iterations", None, "Gradient steps per octave.")
flags.DEFINE_string("num_octaves", None, "Number of scales, or auto.")
flags.DEFINE_string("objective", None, "l2 or mean.")
flags.DEFINE_string("size", None, "Resize the picture to WIDTHxHEIGHT.")
flags.DEFINE_integer("frames", None, "Zoom video: frames to make.")
flags.DEFINE_float("zoom", None, "Zoom video: zoom factor between frames.")
flags.DEFINE_float("zoom_rotate", None, "Zoom video: degrees turned between frames.")

OVERRIDES = ("model", "weights", "guide", "dream_layers", "learning_rate", "num_iterations", "num_octaves", "objective", "size", "frames", "zoom",
             "zoom_rotate")
VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".m4v")


def main(argv):
    del argv
    from deepdream_video import image
    from run_scripts import _deepdream

    config = _deepdream.prepare(FLAGS, OVERRIDES, required=("input", "output"))
    if config is None:
        return
    if pathlib.Path(FLAGS.output).suffix.lower() in VIDEO_SUFFIXES:
        info = image.zoom_video(config, FLAGS.input, FLAGS.output)
        print(f"wrote {FLAGS.output}: {info.frame_count} frames {info.width}x{info.height} at {info.fps} fps")
    else:
        dreamed = image.dream_image(config, FLAGS.input, FLAGS.output)
        print(f"wrote {FLAGS.output}: {dreamed.shape[1]}x{dreamed.shape[0]}")


def run():
    cli.run(main)


if __name__ == "__main__":
    run()
