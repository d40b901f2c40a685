"""videocore.device: each branch forced on this CPU, and the GPU layers give the CPU layers' outputs for the same weights."""
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from relive import configs as relive_configs
from relive import layers as relive_layers
from relive import models as relive_models
from relive import recurrent
from videocore import device
from videocore import errors
from videocore import layers
from videocore import loop
from videocore import precision


def test_this_cpu_machine_gets_the_cpu_branch(monkeypatch):
    monkeypatch.delenv(device.ENVIRONMENT_VARIABLE, raising=False)
    conv3d = "native" if device.onednn_enabled() else "conv2d"
    assert device.choices() == device.Choices("cpu", cudnn_lstm=False, plain_conv3d=False, keras_batch_norm=False,
                                              jit_compile=False, conv3d=conv3d)


def test_environment_and_forced_override_the_detection(monkeypatch):
    monkeypatch.setenv(device.ENVIRONMENT_VARIABLE, "GPU")
    assert device.choices() == device.Choices("gpu", True, True, True, True, "native")
    with device.forced("cpu"):
        assert device.choices().device == "cpu"  # the innermost setting wins over the environment
    assert device.choices("cpu").cudnn_lstm is False


def test_conv3d_form_follows_onednn_on_cpu_and_is_native_on_gpu(monkeypatch):
    monkeypatch.setattr(device, "onednn_enabled", lambda: False)  # an AVX2-only CPU: TF runs Eigen's kernels
    assert device.choices("cpu").conv3d == "conv2d"
    assert device.conv3d_form("auto", "cpu") == ("conv2d", "auto: CPU, oneDNN off")
    assert device.choices("gpu").conv3d == "native"
    assert device.conv3d_form("Native", "cpu") == ("native", "asked for")
    monkeypatch.setattr(device, "onednn_enabled", lambda: True)
    assert device.choices("cpu").conv3d == "native"
    assert device.conv3d_form("conv2d", "gpu") == ("conv2d", "asked for")
    with pytest.raises(errors.ConfigError, match="conv3d='3d'"):
        device.conv3d_form("3d")


def test_onednn_default_flags_agree_with_tensorflow(monkeypatch):
    """ONEDNN_DEFAULT_CPU_FLAGS (the fallback) gives TensorFlow's own answer on this machine."""
    if os.environ.get("TF_ENABLE_ONEDNN_OPTS") is not None:
        pytest.skip("TF_ENABLE_ONEDNN_OPTS is set: TF's answer is not its default")
    assert device.onednn_enabled() == bool(precision.cpu_flags() & device.ONEDNN_DEFAULT_CPU_FLAGS)


def test_unknown_device_name_is_a_config_error(monkeypatch):
    monkeypatch.setenv(device.ENVIRONMENT_VARIABLE, "tpu")
    with pytest.raises(errors.ConfigError, match="NEURAL_VIDEO_DEVICE='tpu'"):
        device.choices()
    with pytest.raises(errors.ConfigError, match="'npu'"):
        with device.forced("npu"):
            pass


def test_loop_jit_compile_is_unset_so_the_device_decides():
    config = loop.loop_config()
    assert config.jit_compile is None
    config.jit_compile = True  # still a bool field: overrides keep their type
    with pytest.raises(TypeError):
        config.jit_compile = "yes"


def _same_outputs(build, inputs, **call_kwargs):
    """Builds the layer on the CPU branch and the GPU branch, copies the CPU weights across, returns both outputs."""
    with device.forced("cpu"):
        cpu_layer = build()
    with device.forced("gpu"):
        gpu_layer = build()
    cpu_out = cpu_layer(inputs, **call_kwargs)
    gpu_layer(inputs, **call_kwargs)
    gpu_layer.set_weights(cpu_layer.get_weights())
    return cpu_layer, gpu_layer, cpu_out, gpu_layer(inputs, **call_kwargs)


def test_lstm_branches_give_the_same_outputs():
    inputs = tf.random.stateless_normal((3, 5, 4), seed=(1, 2))
    state = [tf.random.stateless_normal((3, 6), seed=(3, s)) for s in (4, 5)]
    cpu, gpu, cpu_out, gpu_out = _same_outputs(lambda: recurrent.lstm(6, name="lstm"), inputs, initial_state=state)
    assert isinstance(cpu, recurrent.LSTM) and isinstance(gpu, keras.layers.LSTM)
    assert [w.shape for w in cpu.weights] == [w.shape for w in gpu.weights]
    for a, b in zip(cpu_out, gpu_out):  # outputs, h_T, c_T
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)
    assert float(tf.reduce_max(tf.abs(cpu_out[0]))) > 0.05  # a non-trivial function, not zeros on both sides


@pytest.mark.parametrize("transpose", [False, True])
def test_pixel_conv3d_branches_give_the_same_outputs(transpose):
    config = relive_configs.quick()
    config.generator.filters = ()
    config.critic.filters = (4,)
    config.clip.num_frames, config.clip.frame_size = 4, 8
    config.generator.latent_shape = (2, 4, 4, 5)
    config.conv3d = "native"  # the pixel layers are the native form's CPU branch (a CPU without oneDNN picks conv2d)

    def build():
        model = relive_models.video_generator(config) if transpose else relive_models.video_critic(config)
        return model

    inputs = (tf.random.stateless_normal((2, config.generator.noise_dim), seed=(7, 8)) if transpose
              else tf.random.stateless_uniform((2, 4, 8, 8, 3), seed=(5, 6), minval=-1, maxval=1))
    cpu, gpu, cpu_out, gpu_out = _same_outputs(build, inputs)
    pixel = relive_layers.PixelConv3DTranspose if transpose else relive_layers.PixelConv3D
    assert any(type(layer) is pixel for layer in cpu.layers)
    assert not any(isinstance(layer, pixel) for layer in gpu.layers)
    np.testing.assert_allclose(np.asarray(cpu_out), np.asarray(gpu_out), atol=1e-5)
    assert float(tf.math.reduce_std(cpu_out)) > 1e-3


@pytest.mark.parametrize("training", [False, True])
def test_batch_norm_branches_give_the_same_outputs(training):
    inputs = 3.0 + 2.0 * tf.random.stateless_normal((4, 3, 5, 6), seed=(9, 10))

    def build():
        return layers.batch_norm(momentum=0.9, epsilon=1e-3, name="bn")

    cpu, gpu, _, _ = _same_outputs(build, inputs)
    assert isinstance(cpu, layers.BatchNormalization) and isinstance(gpu, keras.layers.BatchNormalization)
    # Weights that differ from the initial ones so the inference path really uses them.
    weights = [np.linspace(0.5, 2, 6), np.linspace(-1, 1, 6), np.full(6, 2.5), np.linspace(1, 4, 6)]
    cpu.set_weights(weights)
    gpu.set_weights(weights)
    cpu_out, gpu_out = cpu(inputs, training=training), gpu(inputs, training=training)
    np.testing.assert_allclose(np.asarray(cpu_out), np.asarray(gpu_out), atol=1e-4)
    if training:  # normalised by the batch: mean beta per channel
        np.testing.assert_allclose(np.mean(np.asarray(cpu_out), axis=(0, 1, 2)), weights[1], atol=1e-4)
        np.testing.assert_allclose(np.asarray(gpu.moving_mean), np.asarray(cpu.moving_mean), atol=1e-5)
