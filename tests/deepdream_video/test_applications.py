"""Model choice (issue 12 item 9): Keras applications with random weights offline, their layers and inputs."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from deepdream_video import applications
from deepdream_video import configs
from deepdream_video import dreamers
from deepdream_video import layers
from deepdream_video import plan as plan_lib
from videocore import errors
from videocore import video


@pytest.mark.parametrize("name", ["vgg16", "efficientnet_b0", "resnet50v2"])
def test_the_integer_walk_matches_keras_shape_inference(name):
    model = applications.network(name, "random")
    names = layers.dreamable(name)
    features = keras.Model(model.input, [model.get_layer(n).output for n in names])
    for height, width in [(90, 130), (37, 50)]:
        walk = applications.spatial_walk(model, height, width)
        specs = features.compute_output_spec(keras.KerasTensor((1, height, width, 3)))
        assert [walk[n][:2] for n in names] == [tuple(spec.shape[1:3]) for spec in specs]
    table = {info.name: info for info in applications.layer_table(name)}
    assert all(min(applications.spatial_walk(model, info.min_side, info.min_side)[info.name][:2]) >= 1 and
               min(applications.spatial_walk(model, info.min_side - 1, info.min_side - 1)[info.name][:2]) == 0
               for info in table.values() if info.min_side > 1)


def test_layer_tables_by_hand():
    vgg = {info.name: info for info in applications.layer_table("vgg16")}
    assert list(vgg)[0] == "block1_conv1" and len(vgg) == 13
    assert (vgg["block5_conv3"].stride, vgg["block5_conv3"].min_side, vgg["block5_conv3"].channels) == (16, 16, 512)
    efficientnet = {info.name: info for info in applications.layer_table("efficientnet_b0")}
    assert "block2b_add" in efficientnet and "block2b_project_bn" not in efficientnet  # a residual block's output
    assert efficientnet["top_activation"].stride == 32 and efficientnet["top_activation"].channels == 1280
    assert layers.describe("vgg16")[-1].split() == ["block5_conv3", "stride", "16", ">=", "16", "px", "512", "channels"]


def test_each_model_gets_its_own_input_range():
    white = tf.ones((1, 1, 1, 3))  # [-1, 1] white
    np.testing.assert_allclose(applications.preprocess("vgg16")(white).numpy().ravel(),
                               [255 - 103.939, 255 - 116.779, 255 - 123.68], rtol=1e-6)  # BGR minus the mean
    np.testing.assert_allclose(applications.preprocess("efficientnet_b0")(-white).numpy().ravel(), [0, 0, 0])
    np.testing.assert_allclose(applications.preprocess("resnet50v2")(0.5 * white).numpy().ravel(), [0.5] * 3, rtol=1e-6)


@pytest.mark.parametrize("name, layer", [("vgg16", "block3_conv3"),
                                         pytest.param("efficientnet_b0", "block3b_add", marks=pytest.mark.slow)])  # ~10 s
def test_one_octave_step_raises_the_objective_with_random_weights(name, layer):
    dreamer = dreamers.dreamer(plan_lib.Network(name, "random", "float32", "l2"), (layer,), ())
    image = np.random.default_rng(0).uniform(-0.5, 0.5, (48, 64, 3)).astype(np.float32)
    dreamed, objectives = dreamer.dream(image, np.zeros((1, 3, 2), np.int32), learning_rate=0.05)
    assert dreamed.shape == image.shape and np.abs(dreamed.numpy()).max() <= 1.0
    activations = dreamer.net(image[None])
    assert activations[0].shape == (1,) + dreamer.net.output_size(layer, 48, 64) + (dreamer.net.channels(layer),)
    assert np.all(np.diff(objectives.numpy()[0]) > 0), objectives


def test_layer_names_are_checked_per_model_and_a_model_brings_its_layers():
    assert layers.resolve("block4_conv3, block5_conv1", "vgg16") == ("block4_conv3", "block5_conv1")
    with pytest.raises(errors.ConfigError, match="unknown dream layer 'mixed3' for model vgg16; valid layers: "
                                                 "block1_conv1, .*--list_layers"):
        layers.resolve("mixed3", "vgg16")
    config = configs.default()
    notices = configs.apply_overrides(config, {"model": "vgg16", "dream_layers": None})
    assert config.dream_layers == "block4_conv3" and config.layer_schedule == ""
    assert notices[0].startswith("model=vgg16: dream_layers=block4_conv3") and len(notices) == 2


def test_sizes_a_model_cannot_dream_stop_before_its_weights_load(tmp_path):
    config = configs.flow()
    # "imagenet" cannot load offline: failing on the size shows the check comes first.
    config.model, config.weights, config.dream_layers = "vgg16", "imagenet", "block5_conv3"
    config.size, config.num_octaves = "40x24", 3
    with pytest.raises(errors.ConfigError, match="num_octaves=3 at 40x24: the smallest octave is 21x12, below "
                                                 "the 16 px dream layer block5_conv3 needs"):
        plan_lib.for_video(config, video.sample_clip("carphone"), tmp_path / "out.mp4")
    config.num_octaves = "auto"
    assert plan_lib.for_video(config, video.sample_clip("carphone"), tmp_path / "out.mp4").num_octaves == 2


def test_a_weights_file_that_does_not_fit_is_one_line(tmp_path):
    foreign = tmp_path / "foreign.weights.h5"
    foreign.write_bytes(b"not weights")
    with pytest.raises(errors.CheckpointError, match=f"^{foreign}: cannot load as vgg16 weights") as raised:
        applications.network("vgg16", str(foreign))
    assert "\n" not in str(raised.value)
    with pytest.raises(errors.UserInputError, match="weights file not found"):
        applications.network("vgg16", str(tmp_path / "none.h5"))
