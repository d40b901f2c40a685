"""relive.layers' 3D convolutions as sums of 2D ones against TensorFlow's Conv3D ops: values, first and second
derivatives, float32 and mixed_bfloat16, and checkpoints written with the native layers."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from relive import configs
from relive import layers
from relive import losses
from relive import models
from relive import train
from videocore import checkpoint
from videocore import device
from videocore import errors

# What the presets use (configs.py: every critic / generator kernel_size 4, stride 2, same padding) with the
# channel counts of their pixel-side layers (3 in, 6 in for the conditional critic, 3 out), and a wider one.
PRESET_GEOMETRIES = [
    # (name, transposed, input shape (B, T, H, W, C), filters, kernel, strides, padding)
    ("critic_pixels", False, (2, 8, 8, 6, 3), 4, 4, 2, "same"),
    ("conditional_critic_pixels", False, (2, 4, 6, 8, 6), 3, 4, 2, "same"),
    ("critic_inner", False, (2, 4, 4, 4, 5), 6, 4, 2, "same"),
    ("critic_last", False, (2, 2, 2, 4, 6), 4, 4, 2, "same"),  # 2 frames: every tap meets the padding
    ("generator_inner", True, (2, 2, 3, 2, 6), 5, 4, 2, "same"),
    ("generator_rgb", True, (2, 4, 4, 6, 5), 3, 4, 2, "same"),
]
# Beyond the presets: odd frame counts, stride 1 in time, VALID, anisotropic kernels and strides.
OTHER_GEOMETRIES = [
    ("odd_frames_3x3x3", False, (2, 5, 6, 7, 3), 4, 3, 1, "same"),
    ("valid_time_stride_3", False, (2, 10, 6, 7, 3), 4, (3, 3, 2), (4, 2, 1), "valid"),
    ("transpose_odd_valid", True, (2, 3, 4, 3, 4), 3, (3, 2, 3), (2, 1, 2), "valid"),
    ("transpose_stride_3", True, (2, 3, 3, 2, 4), 3, (2, 3, 3), (3, 2, 1), "same"),
    ("transpose_fewer_taps_than_stride", True, (2, 3, 3, 2, 4), 3, (1, 3, 3), (3, 2, 1), "valid"),
]
FLOAT32_TOLERANCE = 1e-5  # relative to the largest reference value


def _pair(transposed, filters, kernel, strides, padding, use_bias=True):
    """(Keras' layer, the 2D form) with the same configuration."""
    native_class = keras.layers.Conv3DTranspose if transposed else keras.layers.Conv3D
    as_2d_class = layers.Conv3DTransposeAs2D if transposed else layers.Conv3DAs2D
    return tuple(layer_class(filters, kernel, strides=strides, padding=padding, use_bias=use_bias)
                 for layer_class in (native_class, as_2d_class))


def _built_pair(geometry, seed=0):
    """Both layers of `geometry` built with the same random weights (non-zero bias)."""
    _, transposed, shape, filters, kernel, strides, padding = geometry
    native, as_2d = _pair(transposed, filters, kernel, strides, padding)
    native.build(shape)
    as_2d.build(shape)
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal(w.shape).astype(np.float32) * (0.3 if w.ndim > 1 else 1.0)
               for w in native.get_weights()]
    native.set_weights(weights)
    as_2d.set_weights(weights)
    return native, as_2d


def _inputs(shape, seed=1):
    return tf.random.stateless_uniform(shape, seed=(seed, 7), minval=-1, maxval=1)


def _everything(layer, x, upstream):
    """The layer's output, d<output, upstream>/d(input, kernel, bias) and the gradient penalty's gradient
    with respect to the kernel (through leaky_relu, as in the critic), each float32."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        outputs = layer(x)
        loss = tf.reduce_sum(tf.cast(outputs, tf.float32) * upstream)
    d_input, d_kernel, d_bias = tape.gradient(loss, [x, layer.kernel, layer.bias])

    def critic(v):
        return tf.reduce_sum(tf.cast(layers.leaky_relu(layer(v), 0.2), tf.float32) * upstream, axis=[1, 2, 3, 4])

    with tf.GradientTape() as tape:
        penalty = losses.gradient_penalty(critic, x)
    d_penalty = tape.gradient(penalty, layer.kernel)
    results = {"forward": outputs, "d_input": d_input, "d_kernel": d_kernel, "d_bias": d_bias,
               "penalty": penalty, "d_penalty_kernel": d_penalty}
    return {name: np.asarray(tf.cast(value, tf.float32)) for name, value in results.items()}


def _relative_errors(got, want):
    return {name: float(np.max(np.abs(got[name] - want[name])) / max(np.max(np.abs(want[name])), 1e-30))
            for name in want}


@pytest.mark.parametrize("geometry", PRESET_GEOMETRIES + OTHER_GEOMETRIES, ids=lambda g: g[0])
def test_float32_values_gradients_and_gradient_penalty_match_native(geometry):
    native, as_2d = _built_pair(geometry)
    x = _inputs(geometry[2])
    upstream = tf.random.stateless_normal(native.compute_output_shape(x.shape), seed=(2, 3))
    want, got = _everything(native, x, upstream), _everything(as_2d, x, upstream)
    assert {name: value.shape for name, value in got.items()} == {name: value.shape for name, value in want.items()}
    errors_found = _relative_errors(got, want)
    assert max(errors_found.values()) <= FLOAT32_TOLERANCE, errors_found
    assert np.max(np.abs(want["d_penalty_kernel"])) > 1e-3  # the double backward is not trivially zero


@pytest.mark.parametrize("geometry", PRESET_GEOMETRIES, ids=lambda g: g[0])
def test_mixed_bfloat16_matches_native_to_bf16_rounding(geometry):
    """Both forms against a float32 computation on the same bf16-rounded inputs and weights.

    bf16 keeps 8 significant bits (relative rounding 2^-9 = 0.2 %). The native op rounds each output
    once; the 2D form also rounds each tap's partial sum before adding the taps in bf16 (4 taps), so its
    outputs and input gradients may be off by a few more roundings, ~2^-8 of the largest value. Each
    tap's weight gradient is its own 2D op, as accurate as the native one. Reductions in bf16 (bias
    gradients) and the gradient penalty's three bf16 convolutions in a row put the native op itself
    at up to ~2.5 % (measured): the 2D form may be 3x the native error + 2^-8, and never above 2^-5.
    """
    keras.mixed_precision.set_global_policy("mixed_bfloat16")  # the autouse fixture puts float32 back
    native, as_2d = _built_pair(geometry)
    x = tf.cast(_inputs(geometry[2]), tf.bfloat16)
    upstream = tf.cast(tf.cast(tf.random.stateless_normal(native.compute_output_shape(x.shape), seed=(2, 3)),
                               tf.bfloat16), tf.float32)
    got, native_bf16 = _everything(as_2d, x, upstream), _everything(native, x, upstream)
    assert got["forward"].dtype == np.float32 and as_2d(x).dtype == tf.bfloat16
    keras.mixed_precision.set_global_policy("float32")
    reference, _ = _built_pair(geometry)
    rounded = [tf.cast(tf.cast(w, tf.bfloat16), tf.float32).numpy() for w in native.get_weights()]
    reference.set_weights(rounded)
    want = _everything(reference, tf.cast(x, tf.float32), upstream)
    errors_2d, errors_native = _relative_errors(got, want), _relative_errors(native_bf16, want)
    # Without oneDNN, TF's (Eigen's) bf16 kernels lose more (native ones up to 8 % here); relive pairs bf16 with
    # the 2D form only when asked: `auto` picks bf16 on AVX512_BF16 / AMX CPUs, where TF turns oneDNN on.
    factor, cap = (3, 2 ** -5) if device.onednn_enabled() else (4, 2 ** -4)
    for name, error in errors_2d.items():
        assert error <= min(factor * errors_native[name] + 2 ** -8, cap), (name, errors_2d, errors_native)


def test_layers_refuse_what_they_do_not_compute():
    with pytest.raises(ValueError, match="dilation"):
        layers.Conv3DAs2D(2, 3, dilation_rate=2).build((1, 4, 4, 4, 1))
    with pytest.raises(ValueError, match="static number of frames"):
        layers.conv3d_as_2d(tf.keras.Input((None, 4, 4, 1)), tf.zeros([3, 3, 3, 1, 2]))


# ----------------------------------------------------------------------------- models and checkpoints


def _tiny_config(conv3d, model="wgan"):
    config = configs.quick()
    config.model = model
    config.critic.penalty = "gradient"
    config.clip.num_frames, config.clip.frame_size = 4, 8
    config.generator.latent_shape = (1, 2, 2, 6)
    config.generator.filters = (5,)
    config.critic.filters = (4, 6)
    config.encoder.filters = (4, 6)
    config.encoder.noise_channels = 2
    config.conv3d = conv3d
    return config


def _networks(config):
    if config.model == "conditional":
        return {"generator": models.conditional_generator(config), "critic": models.conditional_critic(config)}
    return {"generator": models.video_generator(config), "critic": models.video_critic(config)}


def _conv3d_classes(networks):
    found = set()
    for network in networks.values():
        for layer in network._flatten_layers():
            if isinstance(layer, (keras.layers.Conv3D, keras.layers.Conv3DTranspose)):
                found.add(type(layer))
    return found


@pytest.mark.parametrize("model", ["wgan", "conditional"])
def test_native_checkpoint_restores_into_the_2d_form_with_the_same_outputs(tmp_path, model):
    native = _networks(_tiny_config("native", model))
    as_2d = _networks(_tiny_config("conv2d", model))
    assert _conv3d_classes(as_2d) == {layers.Conv3DAs2D, layers.Conv3DTransposeAs2D}
    assert not _conv3d_classes(native) & {layers.Conv3DAs2D, layers.Conv3DTransposeAs2D}
    rng = np.random.default_rng(4)
    for network in native.values():  # weights unlike a fresh model's, BN statistics included
        network.set_weights([w + 0.1 * rng.standard_normal(w.shape).astype(w.dtype) for w in network.get_weights()])
    checkpoint.Checkpointer(tmp_path / "native", {checkpoint.NETWORKS: native}).save(1)
    checkpoint.Checkpointer(tmp_path / "as_2d", {checkpoint.NETWORKS: as_2d}).save(1)
    names = [[name for name, _ in tf.train.list_variables(str(tmp_path / form / "ckpt-1"))]
             for form in ("native", "as_2d")]
    assert names[0] == names[1]  # the same variable paths and shapes in both forms' files
    restored = checkpoint.Checkpointer(tmp_path / "native", {checkpoint.NETWORKS: as_2d}, is_chief=False).restore()
    assert restored.endswith("ckpt-1")
    for name in native:
        for a, b in zip(native[name].weights, as_2d[name].weights):
            assert a.path == b.path and a.shape == b.shape
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    noise = tf.random.stateless_normal((2, 16), seed=(5, 6))
    clips = _inputs((2, 4, 8, 8, 3))
    photo = clips[:, 0]
    for name, inputs in (("generator", noise), ("critic", clips)):
        if model == "conditional":
            inputs = [photo, noise] if name == "generator" else [clips, photo]
        want, got = (np.asarray(net[name](inputs, training=False)) for net in (native, as_2d))
        assert np.max(np.abs(got - want)) <= FLOAT32_TOLERANCE * np.max(np.abs(want))


def test_config_and_device_choose_the_form(monkeypatch):
    assert configs.seed().conv3d == "auto"
    config = _tiny_config("auto")
    monkeypatch.setattr(device, "onednn_enabled", lambda: False)
    with device.forced("cpu"):
        assert models.conv3d_form(config) == "conv2d"  # TF without oneDNN: Eigen's slow Conv3D backward
        assert _conv3d_classes(_networks(config)) == {layers.Conv3DAs2D, layers.Conv3DTransposeAs2D}
    with device.forced("gpu"):
        assert models.conv3d_form(config) == "native"
        assert _conv3d_classes(_networks(config)) == {keras.layers.Conv3D, keras.layers.Conv3DTranspose}
    monkeypatch.setattr(device, "onednn_enabled", lambda: True)
    with device.forced("cpu"):
        assert models.conv3d_form(config) == "native"
        assert _conv3d_classes(_networks(config)) == {layers.PixelConv3D, keras.layers.Conv3D,
                                                      keras.layers.Conv3DTranspose, layers.PixelConv3DTranspose}
        config.conv3d = "conv2d"  # the config field overrides the device's choice
        assert models.conv3d_form(config) == "conv2d"
    config.conv3d = "eigen"
    with pytest.raises(errors.ConfigError, match="conv3d='eigen'"):
        models.conv3d_form(config)


@pytest.mark.slow  # a WGAN-GP training run: ~13 s on a busy 2-core machine
def test_training_with_the_2d_form_logs_the_choice_once(config_for, tmp_path, monkeypatch):
    config = config_for("wgan", "gradient", num_steps=1, checkpoint_every_steps=1, sample_every_steps=0,
                        histogram_every_steps=0)
    config.conv3d = "conv2d"
    # The log call itself is recorded: absl's logger level depends on what ran before in the test process.
    messages = []
    monkeypatch.setattr(train.logging, "info", lambda message, *args, **kwargs: messages.append(message % args))
    result = train.train_and_evaluate(config, tmp_path)
    lines = [message for message in messages if "3D convolutions" in message]
    assert lines == ["3D convolutions: conv2d (config.conv3d=conv2d; asked for)"]
    assert result.step == 1 and np.isfinite(result.losses["gradient_penalty"])
