"""Dream layer names per model: InceptionV3's `mixed*` blocks, the GoogLeNet names the seeds use, validation.

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
The other models (`MODELS`, see `applications.py`) dream with their blocks' outputs by their Keras
names; `describe(model)` lists them with stride and smallest image side (`--list_layers`).
"""
from videocore import errors

INCEPTION_V3_LAYERS = tuple(f"mixed{i}" for i in range(11))
# Smallest image side (px) for which each layer still has an activation (valid convs and pools
# shrink the input; the stride-8, -16 and -32 stages need 27, 43 and 75 px). Checked against
# the network in tests; runs use it to refuse or adapt octave counts before loading any weights.
MIN_SIDE = {**{f"mixed{i}": 27 for i in range(3)}, **{f"mixed{i}": 43 for i in range(3, 8)},
            **{f"mixed{i}": 75 for i in range(8, 11)}}

# Stride from the input and channels of each block (the Keras graph; `describe` prints them).
INCEPTION_V3_STRIDE = {**{f"mixed{i}": 8 for i in range(3)}, **{f"mixed{i}": 16 for i in range(3, 8)},
                       **{f"mixed{i}": 32 for i in range(8, 11)}}
INCEPTION_V3_CHANNELS = {"mixed0": 256, "mixed1": 288, "mixed2": 288, "mixed3": 768, "mixed4": 768, "mixed5": 768,
                         "mixed6": 768, "mixed7": 768, "mixed8": 1280, "mixed9": 2048, "mixed10": 2048}
# The networks `--model` takes: InceptionV3 (offline weights, folded graph) and the Keras
# applications of `applications.APPLICATIONS` ("imagenet" download or a weights file).
MODELS = ("inception_v3", "vgg16", "vgg19", "resnet50v2", "inception_resnet_v2", "efficientnet_b0")
# dream_layers when a model is chosen without naming layers (`configs.apply_overrides`).
DEFAULT_LAYERS = {"inception_v3": "mixed3,mixed5", "vgg16": "block4_conv3", "vgg19": "block4_conv4",
                  "resnet50v2": "conv3_block4_out,conv4_block6_out", "inception_resnet_v2": "mixed_6a,block17_10_ac",
                  "efficientnet_b0": "block4c_add,block5c_add"}

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


def resolve(names, model="inception_v3"):
    """Dream layer names -> tuple of the model's layer names, duplicates dropped, order kept.

    Args:
      names: comma-separated string or sequence of layer names; for inception_v3 `mixedN` or
        GoogLeNet names, for the other models their dreamable layers (`describe(model)`).
      model: "inception_v3" or a key of `applications.APPLICATIONS`.
    Raises:
      ConfigError: no names, or a name that is not a dreamable layer of the model, listing the valid ones.
    """
    valid = dreamable(model)
    resolved = []
    for name in split_names(names):
        key = name[:-len("/output")] if name.endswith("/output") else name
        layer = GOOGLENET_TO_INCEPTION_V3.get(key, key) if model == "inception_v3" else key
        if layer not in valid:
            if model == "inception_v3":
                raise errors.ConfigError(
                    f"unknown dream layer {name!r}; valid layers: {', '.join(INCEPTION_V3_LAYERS)} "
                    f"or the GoogLeNet names {', '.join(GOOGLENET_TO_INCEPTION_V3)}")
            raise errors.ConfigError(
                f"unknown dream layer {name!r} for model {model}; valid layers: {', '.join(valid)} "
                f"(--list_layers shows their strides)")
        if layer not in resolved:
            resolved.append(layer)
    if not resolved:
        raise errors.ConfigError("dream_layers is empty; name at least one layer, e.g. mixed3,mixed5")
    return tuple(resolved)


def check_model(model):
    """ConfigError unless `model` is one of MODELS."""
    if model not in MODELS:
        raise errors.ConfigError(f"model {model!r} is not available; use one of {', '.join(MODELS)}")


def _table(model):
    """The other models' layer tables, from their graphs (deferred: imports Keras and builds one)."""
    from deepdream_video import applications

    check_model(model)
    return {info.name: info for info in applications.layer_table(model)}


def dreamable(model="inception_v3"):
    """The model's dreamable layer names, shallowest first."""
    return INCEPTION_V3_LAYERS if model == "inception_v3" else tuple(_table(model))


def min_side(model, layer):
    """Smallest image side (px) for which `layer` of `model` still has an activation."""
    return MIN_SIDE[layer] if model == "inception_v3" else _table(model)[layer].min_side


def depth(model, layer):
    """Position of `layer` among the model's dreamable layers (deeper is larger)."""
    return dreamable(model).index(layer)


def describe(model="inception_v3"):
    """The lines `--list_layers` prints: each dreamable layer with its stride, smallest side, channels."""
    check_model(model)
    if model == "inception_v3":
        aliases = {layer: name for name, layer in GOOGLENET_TO_INCEPTION_V3.items()}
        rows = [(layer, INCEPTION_V3_STRIDE[layer], MIN_SIDE[layer], INCEPTION_V3_CHANNELS[layer],
                 f"  (GoogLeNet {aliases[layer]})" if layer in aliases else "") for layer in INCEPTION_V3_LAYERS]
    else:
        rows = [(info.name, info.stride, info.min_side, info.channels, "") for info in _table(model).values()]
    width = max(len(row[0]) for row in rows)
    lines = [f"{model}: dreamable layers (stride, smallest image side, channels)"]
    lines += [f"  {name:<{width}}  stride {stride:>2}  >= {side:>3} px  {channels:>4} channels{alias}"
              for name, stride, side, channels, alias in rows]
    return lines


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
