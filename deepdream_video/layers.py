"""Dream layer names: InceptionV3's `mixed*` blocks, the GoogLeNet names the seeds use, validation.

The seeds dream with Caffe's GoogLeNet (inception_3a ... inception_5b). InceptionV3 has the
same three stages of Inception blocks at strides 8, 16 and 32, so each GoogLeNet block maps to
the InceptionV3 block at the same stage and relative depth:

| GoogLeNet (stride) | InceptionV3 | why |
|---|---|---|
| inception_3a (8)  | mixed0  | first block of the stride-8 stage |
| inception_3b (8)  | mixed2  | last block of the stride-8 stage |
| inception_4a (16) | mixed3  | first block at stride 16 (V3's mixed3 is also the reduction into it) |
| inception_4b (16) | mixed4  | |
| inception_4c (16) | mixed5  | the first seed's lowest layer |
| inception_4d (16) | mixed6  | |
| inception_4e (16) | mixed7  | last block of the stride-16 stage |
| inception_5a (32) | mixed9  | first ordinary block at stride 32 (mixed8 is V3's reduction, GoogLeNet's pool4) |
| inception_5b (32) | mixed10 | the last block, the first seed's highest layer |

`inception_4c/output` (Caffe blob names) is accepted as well as `inception_4c`.
"""
from videocore import errors

INCEPTION_V3_LAYERS = tuple(f"mixed{i}" for i in range(11))
# Smallest image side (px) for which each layer still has an activation (valid convs and pools
# shrink the input; the stride-8, -16 and -32 stages need 27, 43 and 75 px). Checked against
# the network in tests; runs use it to refuse or adapt octave counts before loading any weights.
MIN_SIDE = {**{f"mixed{i}": 27 for i in range(3)}, **{f"mixed{i}": 43 for i in range(3, 8)},
            **{f"mixed{i}": 75 for i in range(8, 11)}}

GOOGLENET_TO_INCEPTION_V3 = {
    "inception_3a": "mixed0",
    "inception_3b": "mixed2",
    "inception_4a": "mixed3",
    "inception_4b": "mixed4",
    "inception_4c": "mixed5",
    "inception_4d": "mixed6",
    "inception_4e": "mixed7",
    "inception_5a": "mixed9",
    "inception_5b": "mixed10",
}


def split_names(names):
    """A comma-separated string or a sequence of names -> list of stripped, non-empty names."""
    if isinstance(names, str):
        names = names.split(",")
    return [str(name).strip() for name in names if str(name).strip()]


def resolve(names):
    """Dream layer names -> tuple of InceptionV3 layer names, duplicates dropped, order kept.

    Args:
      names: comma-separated string or sequence of `mixedN` / GoogLeNet names.
    Raises:
      ConfigError: no names, or a name that is neither, listing the valid ones.
    """
    resolved = []
    for name in split_names(names):
        key = name[:-len("/output")] if name.endswith("/output") else name
        layer = GOOGLENET_TO_INCEPTION_V3.get(key, key)
        if layer not in INCEPTION_V3_LAYERS:
            raise errors.ConfigError(
                f"unknown dream layer {name!r}; valid layers: {', '.join(INCEPTION_V3_LAYERS)} "
                f"or the GoogLeNet names {', '.join(GOOGLENET_TO_INCEPTION_V3)}")
        if layer not in resolved:
            resolved.append(layer)
    if not resolved:
        raise errors.ConfigError("dream_layers is empty; name at least one layer, e.g. mixed3,mixed5")
    return tuple(resolved)


def validate_channels(channels, channel_counts):
    """Channel indices -> tuple of ints, each valid in every dream layer.

    Args:
      channels: comma-separated string or sequence of ints; empty means all channels.
      channel_counts: {layer name: number of channels}.
    Raises:
      ConfigError: a channel index that is not an integer or out of range for some layer.
    """
    if isinstance(channels, str):
        channels = split_names(channels)
    result = []
    for channel in channels:
        try:
            index = int(channel)
        except (TypeError, ValueError):
            raise errors.ConfigError(f"channels must be integers, got {channel!r}") from None
        for layer, count in channel_counts.items():
            if not 0 <= index < count:
                raise errors.ConfigError(
                    f"channel {index} is out of range for layer {layer}, which has {count} channels (0-{count - 1})")
        if index not in result:
            result.append(index)
    return tuple(result)
