"""Figures from a trained model: real vs reconstructed frames (Figures 5.7-5.8) and a collapse strip (6.4)."""

import pathlib

import numpy as np

from videocore import data
from videocore import errors
from videocore import metrics
from videocore import summaries
from videocore import video
from videocore import workdir as workdirs
from vaegan_video import reconstruct
from vaegan_video import train


def reconstruct_pairs(config, workdir, video_path, start, end, batch_size=48):
    """(originals, reconstructions), both (N, H, W, 3) uint8 at the model's size, for [start, end)."""
    aspect, start, end = reconstruct.framing(config, workdir, video_path, start, end)
    model = reconstruct.Autoencoder(config, workdir)
    originals, outputs = [], []
    for frames in data.ordered_batches(video_path, batch_size, "uint8", size=model.size, aspect=aspect,
                                       start=start, end=end):
        originals.append(frames.numpy())
        outputs.append(model(frames).numpy())
    return np.concatenate(originals), np.concatenate(outputs)


def comparison_figure(config, workdir, video_path, output, *, every=25, count=8, start=None, end=None,
                      layout="rows"):
    """Every `every`-th frame from `start`, `count` of them, with its reconstruction, as one PNG.

    Frames are cropped as the run in `workdir` trained (see `reconstruct.framing`); `start`
    defaults to the start of the run's training span when the video is one it trained on.

    layout="rows": the film on top, its reconstruction below (Figure 6.4's layout);
    layout="alternating": real and reconstructed frames side by side in turn (Figures 5.7-5.8).
    Returns (path, temporal collapse ratio over every frame of the span: 1 = motion kept,
    0 = collapsed into one representation).
    """
    if every < 1 or count < 1:
        raise errors.ConfigError(f"every ({every}) and count ({count}) must be at least 1")
    workdirs.check(workdir, train.KIND)
    info = video.probe(video_path)
    if start is None:  # the run's own film starts where its training span did
        start = reconstruct.framing(config, workdir, video_path)[1]
    start = start or 0.0
    span_end = start + (every * (count - 1) + 1) / float(info.fps)
    end = span_end if end is None else min(end, span_end)
    originals, outputs = reconstruct_pairs(config, workdir, video_path, start, end)
    picks = np.arange(0, len(originals), every)[:count]
    if layout == "rows":
        grid = summaries.image_grid(np.concatenate([originals[picks], outputs[picks]]), columns=len(picks))
    elif layout == "alternating":
        interleaved = np.stack([originals[picks], outputs[picks]], axis=1).reshape(-1, *originals.shape[1:])
        grid = summaries.image_grid(interleaved, columns=min(4, 2 * len(picks)))
    else:
        raise errors.ConfigError(f"layout must be 'rows' or 'alternating', got {layout!r}")
    output = pathlib.Path(output)
    summaries.save_png(output, grid)
    ratio = metrics.temporal_collapse_ratio(outputs, originals) if len(originals) > 1 else float("nan")
    return output, ratio
