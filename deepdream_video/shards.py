"""Long films across machines: joining the shards of a `shard=i/N` run into one video with the source's audio.

Each shard (`video.dream_video` with config.shard "i/N") writes <stem>.shard-i-of-N<suffix> and a
.json record beside it: which shard, its first frame and frame count, the source, the frame rate
and size, and a hash of the run's resolved settings. `merge` checks the records fit together
(all N present, contiguous, one source, one set of settings) before it writes anything.
"""
import fractions
import json
import pathlib

import numpy as np
import tqdm

from videocore import errors
from videocore import metrics
from videocore import video as video_lib


def shard_path(output, index, count):
    """Where shard `index` of `count` of a run writing `output` puts its video: film.shard-1-of-4.mp4."""
    output = pathlib.Path(output)
    return output.with_name(f"{output.stem}.shard-{index}-of-{count}{output.suffix}")


def _records(output):
    """The shard records for `output`, checked: [(video path, record)] in shard order."""
    output = pathlib.Path(output)
    found = sorted(output.parent.glob(f"{output.stem}.shard-*-of-*.json"))
    if not found:
        raise errors.UserInputError(f"{output}: no shards found (expected {shard_path(output, 0, 'N').name} "
                                    "and its .json record beside it)")
    records = []
    for path in found:
        try:
            records.append(json.loads(path.read_text()))
        except (OSError, ValueError) as error:
            raise errors.UserInputError(f"{path}: unreadable shard record ({error})") from None
    count = records[0]["count"]
    by_index = {}
    for path, record in zip(found, records):
        if record["count"] != count:
            raise errors.UserInputError(f"{path}: a shard of {record['count']}, the others are of {count}; "
                                        "remove the shards of the other run")
        by_index[record["shard"]] = (path.with_suffix(output.suffix), record)
    missing = [str(index) for index in range(count) if index not in by_index]
    if missing:
        raise errors.UserInputError(f"{output}: shard{'s' if len(missing) > 1 else ''} {', '.join(missing)} of "
                                    f"{count} missing ({shard_path(output, int(missing[0]), count).name})")
    first = by_index[0][1]
    expected_start = 0
    for index in range(count):
        path, record = by_index[index]
        for field in ("video", "settings", "fps", "size", "start", "end", "total_frames"):
            if record[field] != first[field]:
                raise errors.UserInputError(f"{path}: {field} differs from shard 0's ({record[field]!r} vs "
                                            f"{first[field]!r}); all shards must come from one run")
        if record["first_frame"] != expected_start:
            raise errors.UserInputError(f"{path}: starts at frame {record['first_frame']}, expected {expected_start}")
        if not path.is_file():
            raise errors.UserInputError(f"{path}: shard video missing (its .json record is there)")
        frames = video_lib.probe(path).frame_count
        if frames != record["frames"]:
            raise errors.UserInputError(f"{path}: holds {frames} frames, its record says {record['frames']} "
                                        "(half copied?)")
        expected_start += record["frames"]
    if expected_start != first["total_frames"]:
        raise errors.UserInputError(f"{output}: the shards hold {expected_start} frames, the run has "
                                    f"{first['total_frames']}")
    return [by_index[index] for index in range(count)]


def merge(output, *, video=None, quality=18, progress=True):
    """Joins the shards of a run writing `output` into `output`, in one pass, with the source's audio.

    Args:
      output: the path the sharded run was given (the shards sit beside it).
      video: the source video, if it has moved since the shards were made (default: the recorded path).
      quality: H.264 CRF of the joined video.
    Returns:
      VideoInfo of the written video.
    Raises:
      UserInputError naming the missing or mismatched shard, before anything is written.
    """
    output = pathlib.Path(output)
    shards = _records(output)
    first = shards[0][1]
    source = pathlib.Path(video or first["video"])
    info = video_lib.probe(source)
    if info.fps != fractions.Fraction(first["fps"]):
        raise errors.UserInputError(f"{source}: {info.fps} fps, the shards were made at {first['fps']}")
    audio = source if info.has_audio else None
    with video_lib.VideoWriter(output, info.fps, audio_source=audio, audio_start=first["start"],
                               quality=quality) as writer:
        for path, record in tqdm.tqdm(shards, unit="shard", disable=not progress, desc=f"joining {output.name}"):
            for frame in video_lib.read_frames(path):
                writer.write(frame)
    return video_lib.probe(output)


def seam_warping_errors(merged, source, seams, start=0.0, end=None):
    """Warping error of each frame pair of a joined video, split into pairs across a seam and the rest.

    Args:
      merged: the joined video; source: its source video, read over [start, end) seconds (the run's).
      seams: frame indices that begin a shard (other than 0).
    Returns:
      (mean error of the pairs (s - 1, s) for s in seams, mean error of the other pairs).
    """
    output = video_lib.read_all(merged)
    inputs = video_lib.read_all(source, start=start, end=end, size=(output.shape[2], output.shape[1]))
    pairs = [metrics.warping_error(output[t - 1:t + 1], inputs[t - 1:t + 1]) for t in range(1, len(output))]
    at_seams = [pairs[s - 1] for s in seams]
    within = [error for t, error in enumerate(pairs, start=1) if t not in set(seams)]
    return float(np.mean(at_seams)), float(np.mean(within))
