"""Dream layer names: the GoogLeNet -> InceptionV3 mapping and the errors for bad names / channels."""
import pytest

from deepdream_video import layers
from videocore import errors


def test_googlenet_names_map_to_mixed_blocks_in_order():
    names = ["inception_3a", "inception_3b", "inception_4a", "inception_4b", "inception_4c", "inception_4d",
             "inception_4e", "inception_5a", "inception_5b"]
    resolved = [layers.resolve([name])[0] for name in names]
    assert resolved == ["mixed0", "mixed2", "mixed3", "mixed4", "mixed5", "mixed6", "mixed7", "mixed9", "mixed10"]
    # Deeper GoogLeNet blocks never map to shallower InceptionV3 blocks.
    depths = [int(name[len("mixed"):]) for name in resolved]
    assert depths == sorted(depths)


def test_resolve_accepts_strings_caffe_blob_names_and_drops_duplicates():
    assert layers.resolve("mixed3, inception_4c/output,mixed5") == ("mixed3", "mixed5")


def test_unknown_layer_lists_the_valid_ones():
    with pytest.raises(errors.ConfigError) as caught:
        layers.resolve("mixed3,conv2d_7")
    message = str(caught.value)
    assert "conv2d_7" in message and "mixed0" in message and "mixed10" in message and "inception_4c" in message
    assert "\n" not in message


def test_empty_layer_list_is_an_error():
    with pytest.raises(errors.ConfigError):
        layers.resolve(" , ")


def test_channels_out_of_range_name_the_layer_and_its_size():
    assert layers.validate_channels("3,7,3", {"mixed3": 768}) == (3, 7)
    with pytest.raises(errors.ConfigError, match=r"channel 768 .*mixed3.* 768 channels \(0-767\)"):
        layers.validate_channels([768], {"mixed3": 768})
    with pytest.raises(errors.ConfigError, match="channel -1"):
        layers.validate_channels([-1], {"mixed0": 256})
    with pytest.raises(errors.ConfigError, match="integers"):
        layers.validate_channels("a", {"mixed0": 256})
