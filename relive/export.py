"""SavedModels of trained relive networks (through `videocore.export`), loadable with TensorFlow alone.

  generator               serving_default: noise float32 (N, Z) -> clips uint8 (N, T, H, W, 3)
  conditional_generator   serving_default: photos uint8 (N, H, W, 3), noise float32 (N, Z) -> clips uint8
  predictor               serving_default: photos uint8 (N, H, W, 3) -> rollout uint8 (N, R, H, W, 3)
                          next_frames: frames uint8 (N, t, H, W, 3) -> predicted next frames uint8 (same shape)
Z = generator.noise_dim (standard normal noise), R = sample.rollout_frames.
"""
import pathlib

import tensorflow as tf

from relive import sample
from videocore import export


def _noise_spec(config):
    return tf.TensorSpec([None, config.generator.noise_dim], tf.float32, name="noise")


def export_generator(config, generator, path):
    """Unconditional generator: noise -> {"clips": uint8}."""
    def generate(noise):
        return {"clips": export.float_to_uint8(generator(noise, training=False))}

    return export.export(path, {"serving_default": (generate, [_noise_spec(config)])}, [generator])


def export_conditional_generator(config, generator, path):
    """Conditional generator: (photos uint8, noise) -> {"clips": uint8} around each photo."""
    size = config.clip.frame_size

    def generate(photos, noise):
        clips = generator([export.uint8_to_float(photos), noise], training=False)
        return {"clips": export.float_to_uint8(clips)}

    specs = [tf.TensorSpec([None, size, size, 3], tf.uint8, name="photos"), _noise_spec(config)]
    return export.export(path, {"serving_default": (generate, specs)}, [generator])


def export_predictor(config, predictor, path):
    """LSTM predictor: photos -> {"frames": rollout uint8}; and next_frames: frames -> {"frames": uint8}."""
    size = config.clip.frame_size

    def rollout(photos):
        frames = predictor.rollout(export.uint8_to_float(photos), config.sample.rollout_frames)
        return {"frames": export.float_to_uint8(frames)}

    def next_frames(frames):
        return {"frames": export.float_to_uint8(predictor(export.uint8_to_float(frames), training=False))}

    endpoints = {
        "serving_default": (rollout, [tf.TensorSpec([None, size, size, 3], tf.uint8, name="photos")]),
        "next_frames": (next_frames, [tf.TensorSpec([None, None, size, size, 3], tf.uint8, name="frames")]),
    }
    return export.export(path, endpoints, [predictor])


EXPORTERS = {
    "wgan": ("generator", "generator", export_generator),
    "conditional": ("generator", "conditional_generator", export_conditional_generator),
    "predictor": ("predictor", "predictor", export_predictor),
}


def export_trained(config, workdir, output_dir, model=None):
    """Exports the trained `model` (default: the run's) of `workdir` to `output_dir/<name>`; returns the path."""
    config = sample.run_config(config, workdir)
    model = model or config.model
    network_name, folder, exporter = EXPORTERS[model]
    network = sample.load_networks(config, workdir, model)[network_name]
    return exporter(config, network, pathlib.Path(output_dir) / folder)
