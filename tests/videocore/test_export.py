"""SavedModel export: uint8 and latent signatures, loaded in a fresh process with TensorFlow alone."""
import pathlib
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from videocore import errors
from videocore import export

LATENT = 6


def strided_autoencoder():
    """Halves then doubles the size: odd sizes only survive with padding inside the endpoint."""
    return keras.Sequential([
        keras.Input((None, None, 3)),
        keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu"),
        keras.layers.Conv2DTranspose(3, 3, strides=2, padding="same", activation="tanh"),
    ])


def encoder_decoder(size=8):
    encoder = keras.Sequential([keras.Input((size, size, 3)), keras.layers.Flatten(), keras.layers.Dense(LATENT)])
    decoder = keras.Sequential([keras.Input((LATENT,)), keras.layers.Dense(size * size * 3, activation="tanh"),
                                keras.layers.Reshape((size, size, 3))])
    return encoder, decoder


def expected_frames(model, frames, multiple):
    """What the endpoint should compute, written out with numpy around the model."""
    images = frames.astype(np.float32) / 127.5 - 1.0
    height, width = images.shape[1:3]
    padded = np.pad(images, [(0, 0), (0, -height % multiple), (0, -width % multiple), (0, 0)], mode="symmetric")
    output = np.asarray(model(padded), np.float32)[:, :height, :width]
    return np.clip(np.round((output + 1.0) * 127.5), 0, 255).astype(np.uint8)


FRESH_PROCESS = textwrap.dedent("""
    import sys
    import numpy as np
    import tensorflow as tf
    frames_path, latent_path, inputs, outputs = sys.argv[1:5]
    data = np.load(inputs)
    frames_model = tf.saved_model.load(frames_path)
    latent_model = tf.saved_model.load(latent_path)
    result = {
        "frames": frames_model.signatures["serving_default"](frames=tf.constant(data["frames"]))["frames"],
        "codes": latent_model.signatures["encode"](frames=tf.constant(data["small"]))["latents"],
        "round_trip": latent_model.signatures["serving_default"](frames=tf.constant(data["small"]))["frames"],
    }
    result["decoded"] = latent_model.signatures["decode"](latents=result["codes"])["frames"]
    np.savez(outputs, **{name: value.numpy() for name, value in result.items()})
    print("signatures", sorted(latent_model.signatures))
    print("videocore imported:", any(name.startswith("videocore") for name in sys.modules))
""")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    keras.utils.set_random_seed(5)
    model = strided_autoencoder()
    encoder, decoder = encoder_decoder()
    export.export_frames_model(model, root / "frames_model", size_multiple=2)
    # Several signatures in one SavedModel, built from the endpoint bodies the methods use.
    encode, decode = export.frames_to_latents(encoder), export.latents_to_frames(decoder)
    export.export(root / "latent_model", {
        "serving_default": (lambda frames: decode(encode(frames)["latents"]), [export.frames_spec(8, 8)]),
        "encode": (encode, [export.frames_spec(8, 8)]),
        "decode": (decode, [export.latents_spec((LATENT,))]),
    }, [encoder, decoder])
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (2, 9, 13, 3), dtype=np.uint8)  # odd sizes on purpose
    small = rng.integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    np.savez(root / "inputs.npz", frames=frames, small=small)
    run = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, str(root / "frames_model"), str(root / "latent_model"),
         str(root / "inputs.npz"), str(root / "outputs.npz")],
        capture_output=True, text=True, timeout=180, cwd=root)
    assert run.returncode == 0, run.stderr[-3000:]
    return dict(root=root, model=model, encoder=encoder, decoder=decoder, frames=frames, small=small,
                stdout=run.stdout, outputs=np.load(root / "outputs.npz"))


def test_frames_signature_maps_uint8_to_uint8_of_the_same_size(exported):
    output = exported["outputs"]["frames"]
    assert output.dtype == np.uint8 and output.shape == exported["frames"].shape
    expected = expected_frames(exported["model"], exported["frames"], multiple=2)
    assert np.abs(output.astype(int) - expected.astype(int)).max() <= 1  # rounding at .5 may differ


def test_latent_signatures_encode_decode_and_round_trip(exported):
    outputs = exported["outputs"]
    assert outputs["codes"].dtype == np.float32 and outputs["codes"].shape == (3, LATENT)
    images = exported["small"].astype(np.float32) / 127.5 - 1.0
    np.testing.assert_allclose(outputs["codes"], np.asarray(exported["encoder"](images)), atol=1e-5)
    assert outputs["decoded"].dtype == np.uint8 and outputs["decoded"].shape == (3, 8, 8, 3)
    assert np.array_equal(outputs["round_trip"], outputs["decoded"])


def test_loads_without_our_package(exported):
    assert "signatures ['decode', 'encode', 'serving_default']" in exported["stdout"]
    assert "videocore imported: False" in exported["stdout"]


@pytest.mark.slow  # saved_model_cli is a subprocess: ~7 s
def test_saved_model_cli_lists_the_signatures(exported):
    cli = pathlib.Path(sys.executable).with_name("saved_model_cli")
    command = [str(cli)] if cli.exists() else [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli"]
    run = subprocess.run(command + ["show", "--all", "--dir", str(exported["root"] / "latent_model")],
                         capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-3000:]
    text = run.stdout
    for name in ("serving_default", "encode", "decode"):
        assert f"signature_def['{name}']" in text
    encode = text.split("signature_def['encode']")[1].split("signature_def[")[0]
    assert "inputs['frames']" in encode and "DT_UINT8" in encode and "outputs['latents']" in encode
    decode = text.split("signature_def['decode']")[1].split("signature_def[")[0]
    assert "inputs['latents']" in decode and "DT_FLOAT" in decode and "shape: (-1, 6)" in decode


def test_bfloat16_model_exports_float32_rounded_uint8(tmp_path):
    before = keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = strided_autoencoder()
    finally:
        keras.mixed_precision.set_global_policy(before)
    path = export.export_frames_model(model, tmp_path / "bf16", size_multiple=2)
    frames = np.random.default_rng(1).integers(0, 256, (1, 6, 10, 3), dtype=np.uint8)
    output = tf.saved_model.load(str(path)).signatures["serving_default"](frames=tf.constant(frames))["frames"]
    assert output.dtype == tf.uint8 and output.shape == frames.shape
    # The bf16 net's output, quantised by hand in float64: (y + 1) * 127.5 rounded half to even, clipped.
    y = model(frames.astype(np.float32) / 127.5 - 1.0).numpy().astype(np.float64)
    assert model.compute_dtype == "bfloat16"
    np.testing.assert_array_equal(output.numpy(), np.clip(np.round((y + 1.0) * 127.5), 0, 255).astype(np.uint8))
    # Quantising in bf16 instead (no cast to float32 first) gives other values: the check above can tell.
    in_bf16 = tf.cast(tf.round((tf.cast(y, tf.bfloat16) + 1.0) * 127.5), tf.float32).numpy()
    assert np.any(np.clip(in_bf16, 0, 255).astype(np.uint8) != output.numpy())


def test_latents_model_and_replacing_an_export(tmp_path):
    sequence_model = keras.Sequential([keras.Input((None, LATENT)), keras.layers.LSTM(LATENT, return_sequences=True)])
    path = tmp_path / "latents"
    endpoints = {"serving_default": (export.latents_to_latents(sequence_model), [export.latents_spec((None, LATENT))])}
    export.export(path, endpoints, [sequence_model])
    export.export(path, endpoints, [sequence_model])  # replaces it
    latents = np.random.default_rng(2).normal(size=(2, 5, LATENT)).astype(np.float32)
    output = tf.saved_model.load(str(path)).signatures["serving_default"](latents=tf.constant(latents))["latents"]
    np.testing.assert_allclose(output.numpy(), np.asarray(sequence_model(latents)), atol=1e-5)
    assert [p.name for p in tmp_path.iterdir()] == ["latents"]  # no temp directories left


def test_refuses_to_replace_something_that_is_not_a_saved_model(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "keep.txt").write_text("mine")
    with pytest.raises(errors.UserInputError, match="notes: exists and is not a SavedModel"):
        export.export_frames_model(strided_autoencoder(), tmp_path / "notes")
    assert (tmp_path / "notes" / "keep.txt").read_text() == "mine"
