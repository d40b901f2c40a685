"""The start both DeepDream mains share: --list_layers, the required flags, the explicit flags onto the preset."""


def prepare(flag_values, overrides, required):
    """Returns the config to dream with, or None when --list_layers printed the model's layers.

    flag_values: absl's FLAGS; overrides: the flag names that set config fields when given;
    required: the flag names a dream needs (a UserInputError names them when one is missing).
    """
    from deepdream_video import configs
    from deepdream_video import layers
    from videocore import errors

    config = flag_values.config
    if flag_values.list_layers:
        print("\n".join(layers.describe(flag_values.model or config.model)))
        return None
    if not all(flag_values[name].value for name in required):
        raise errors.UserInputError(f"{' and '.join('--' + name for name in required)} are required (or --list_layers)")
    for notice in configs.apply_overrides(config, {name: flag_values[name].value for name in overrides}):
        print(notice, flush=True)
    return config
