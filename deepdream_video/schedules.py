"""What changes from frame to frame: blend schedules, the layer schedule and keyframed parameters.

Every schedule is a pure function of the frame index (and the run's seed), so a resumed run
recomputes exactly the values an uninterrupted one would have used.
"""
import dataclasses
import re

import numpy as np

from videocore import errors

BLEND_KINDS = ("constant", "loop", "random")


def blend_value(kind, frame_index, *, value=0.5, low=0.5, high=1.0, step=0.1, seed=0):
    """Weight of the raw frame when it is blended with the previous dreamed frame (first seed).

    start = alpha * raw + (1 - alpha) * previous_dream, so 1 takes the movie frame only and 0.5
    half of each. Frame 0 has no previous dream; its value is never used.

      constant: `value` on every frame.
      loop: a triangle wave from `low` up to `high` and back in steps of `step`, starting at `low`
        on frame 0: 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.6, ... (defaults).
      random: uniform in [low, high], drawn from a generator seeded by (seed, frame_index).
    Returns a float in [0, 1].
    """
    if kind == "constant":
        return float(value)
    if kind == "loop":
        count = max(1, round((high - low) / step))
        phase = frame_index % (2 * count)
        position = phase if phase <= count else 2 * count - phase
        return float(low + (high - low) * position / count)
    if kind == "random":
        return float(np.random.default_rng([seed, frame_index, 1]).uniform(low, high))
    raise errors.ConfigError(f"blend must be one of {', '.join(BLEND_KINDS)}, got {kind!r}")


def layer_index(num_layers, frame_index, every=1):
    """Index into a layer list that moves up one layer every `every` frames, then back down.

    With 5 layers and every=1, frames 0, 1, 2, ... get 0, 1, 2, 3, 4, 3, 2, 1, 0, 1, ... (the
    first seed's "moving upwards from inception_4c to inception_5b and back again").
    """
    if num_layers <= 1:
        return 0
    period = 2 * (num_layers - 1)
    phase = (frame_index // max(1, every)) % period
    return phase if phase < num_layers else period - phase


# Keyframes ------------------------------------------------------------------------------------

NUMERIC = {"learning_rate": float, "num_iterations": int, "num_octaves": int, "octave_scale": float,
           "jitter": int, "blend_value": float, "flow_decay": float, "flow_refresh": float}
STEPPED = {"dream_layers": str, "channels": str}
_TIME = re.compile(r"^(\d+(?:\.\d*)?)(s?)$")


@dataclasses.dataclass(frozen=True)
class Keyframe:
    """Parameter values that hold from `frame` on (numeric ones interpolated up to the next)."""

    frame: int
    values: dict


def parse_keyframes(spec, fps):
    """Parses a keyframe spec into Keyframes sorted by frame.

    Grammar: entries separated by ";", each "TIME: name=value name=value ...", TIME a frame
    index ("48") or seconds ("2.5s", rounded to the nearest frame at `fps`). Example:
      "0: learning_rate=0.01 dream_layers=mixed3; 2s: learning_rate=0.03; 96: dream_layers=mixed5,mixed6"
    Numeric names: see NUMERIC; layer/channel lists (STEPPED) switch at their keyframe.
    Raises ConfigError naming the bad entry.
    """
    keyframes = {}
    for entry in filter(None, (part.strip() for part in (spec or "").split(";"))):
        time_text, _, assignments = entry.partition(":")
        match = _TIME.match(time_text.strip())
        if not match or not assignments.strip():
            raise errors.ConfigError(f"keyframe {entry!r}: expected 'FRAME: name=value ...' or 'SECONDSs: ...'")
        frame = round(float(match.group(1)) * float(fps)) if match.group(2) else int(float(match.group(1)))
        values = keyframes.setdefault(frame, {})
        for assignment in assignments.split():
            name, _, text = assignment.partition("=")
            kind = NUMERIC.get(name) or STEPPED.get(name)
            if kind is None:
                raise errors.ConfigError(
                    f"keyframe {entry!r}: {name!r} cannot be keyframed; use one of {', '.join([*NUMERIC, *STEPPED])}")
            try:
                values[name] = kind(text) if kind is not int else int(float(text))
            except ValueError:
                raise errors.ConfigError(f"keyframe {entry!r}: {name}={text!r} is not a number") from None
    return [Keyframe(frame, values) for frame, values in sorted(keyframes.items())]


def values_at(keyframes, frame_index, base):
    """Parameter values for one frame: `base` (the config's values, in force at frame 0) as
    changed by the keyframes.

    A numeric parameter is interpolated linearly between the two keyframes around the frame that
    set it (the base value counts as set at frame 0) and rounded if it is an integer; it holds
    after the last. A stepped parameter takes the value of the last keyframe at or before it.
    Returns a new dict.
    """
    values = dict(base)
    for name in {name for keyframe in keyframes for name in keyframe.values}:
        points = [(0, base[name])] if name in base else []
        points += [(k.frame, k.values[name]) for k in keyframes if name in k.values]
        before = [point for point in points if point[0] <= frame_index]
        after = [point for point in points if point[0] > frame_index]
        if not before:
            continue
        value = before[-1][1]
        if name in NUMERIC and after:
            (f0, v0), (f1, v1) = before[-1], after[0]
            value = v0 + (v1 - v0) * (frame_index - f0) / (f1 - f0)
            if NUMERIC[name] is int:
                value = int(round(value))
        values[name] = value
    return values
