"""SavedModel export with explicit serving signatures: uint8 frames and / or float latents.

The SavedModels load with `tf.saved_model.load` alone (no Keras, no videocore) and
`saved_model_cli show --all` lists their signatures. Inside, pixels go to float32 in [-1, 1]
(the networks' range), and outputs are cast to float32 before quantising to uint8 so that a
bf16 network rounds the same way as a float32 one.
"""
import pathlib
import shutil
import tempfile

import keras
import tensorflow as tf

from videocore import data
from videocore import errors


def frames_spec(height=None, width=None):
    """Spec of uint8 RGB frames (N, H, W, 3); leave H / W None to accept any size."""
    return tf.TensorSpec([None, height, width, 3], tf.uint8, name="frames")


def latents_spec(shape):
    """Spec of float32 latents (N, *shape), e.g. shape=(512,) or (None, 512) for sequences."""
    return tf.TensorSpec([None, *shape], tf.float32, name="latents")


# The same scaling as the training pipelines, traced into the SavedModel (one implementation).
uint8_to_float = data.to_float  # uint8 [0, 255] -> float32 [-1, 1]
float_to_uint8 = data.to_uint8  # float in [-1, 1] (any float dtype) -> uint8, rounded and clipped


def pad_to_multiple(images, multiple):
    """Pads (N, H, W, C) by edge reflection so H and W are multiples of `multiple`.

    Returns the padded images and the original (H, W) to crop back to; strided networks
    would otherwise change odd sizes.
    """
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    if multiple <= 1:
        return images, (height, width)
    pad_height = (-height) % multiple
    pad_width = (-width) % multiple
    padded = tf.pad(images, [[0, 0], [0, pad_height], [0, pad_width], [0, 0]], mode="SYMMETRIC")
    return padded, (height, width)


def _call(fn, inputs):
    if isinstance(fn, keras.Model):
        return fn(inputs, training=False)
    return fn(inputs)


def frames_to_frames(fn, size_multiple=1):
    """Endpoint body: uint8 frames -> {"frames": uint8 frames of the same size}.

    fn maps float (N, H, W, 3) in [-1, 1] to the same; it sees sizes padded to `size_multiple`.
    """
    def endpoint(frames):
        images, (height, width) = pad_to_multiple(uint8_to_float(frames), size_multiple)
        output = _call(fn, images)[:, :height, :width, :]
        return {"frames": float_to_uint8(output)}
    return endpoint


def frames_to_latents(encode):
    """Endpoint body: uint8 frames -> {"latents": float32}; encode takes floats in [-1, 1]."""
    def endpoint(frames):
        return {"latents": tf.cast(_call(encode, uint8_to_float(frames)), tf.float32)}
    return endpoint


def latents_to_frames(decode):
    """Endpoint body: float32 latents -> {"frames": uint8}; decode returns floats in [-1, 1]."""
    def endpoint(latents):
        return {"frames": float_to_uint8(_call(decode, latents))}
    return endpoint


def latents_to_latents(fn):
    """Endpoint body: float32 latents -> {"latents": float32} (e.g. a latent sequence model)."""
    def endpoint(latents):
        return {"latents": tf.cast(_call(fn, latents), tf.float32)}
    return endpoint


def export(path, endpoints, track):
    """Writes a SavedModel at `path` with one signature per endpoint; returns the path.

    endpoints: {signature name: (body, [input TensorSpec, ...])}; name one "serving_default".
    track: the Keras models / tf trackables whose variables the bodies use.
    Written to a temp directory first and renamed, so `path` is never half-written.
    """
    path = pathlib.Path(path)
    if not endpoints:
        raise ValueError("export needs at least one endpoint")
    archive = keras.export.ExportArchive()
    for item in track:
        archive.track(item)
    for name, (body, specs) in endpoints.items():
        archive.add_endpoint(name, tf.function(body, input_signature=list(specs), autograph=False))
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = pathlib.Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.tmp-"))
    try:
        archive.write_out(str(temp / "model"), verbose=False)
        if path.exists():
            if not (path / "saved_model.pb").exists():
                raise errors.UserInputError(f"{path}: exists and is not a SavedModel; not replacing it")
            shutil.rmtree(path)
        (temp / "model").rename(path)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return path


def _tracked(fn, track):
    if track is not None:
        return list(track)
    if isinstance(fn, (keras.Model, tf.Module)):
        return [fn]
    raise ValueError("pass track=[models...] when exporting a plain function")


def export_frames_model(fn, path, *, track=None, size_multiple=1, frame_size=None):
    """SavedModel whose serving_default maps uint8 frames (N, H, W, 3) to uint8 frames (N, H, W, 3).

    fn: a Keras model or a function of float (N, H, W, 3) in [-1, 1] -> same range.
    frame_size: (height, width) to fix the input size (e.g. for a net with dense layers), else any.
    size_multiple: pad inputs to multiples of this inside the model and crop outputs back.
    """
    height, width = frame_size or (None, None)
    endpoints = {"serving_default": (frames_to_frames(fn, size_multiple), [frames_spec(height, width)])}
    return export(path, endpoints, _tracked(fn, track))
