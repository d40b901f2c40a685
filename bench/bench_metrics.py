"""Inception feature extraction (FID) frames/s at 299x299: float32 vs mixed_bfloat16, BN kept vs folded.

    python bench/bench_metrics.py [--repeats=5] [--batch_size=32]
The naive baseline is the plain graph (BatchNorm layers) in float32; every row runs the same
tf.function (uint8 in, resize, scale, network) on the same frames of the bundled "bikes" clip.
Also prints how far bf16 features and FID move from float32 ones. Medians; other processes on
the machine make absolute figures noisy.
"""
import pathlib
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from absl import flags  # noqa: E402

from videocore import cli  # noqa: E402  (before TensorFlow loads: it quiets TF's start-up chatter)

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from videocore import metrics  # noqa: E402
from videocore import video  # noqa: E402

CONFIGURATIONS = (  # (label, dtype, fold_batchnorm); the first is the naive baseline
    ("float32, BatchNorm layers", "float32", False),
    ("float32, BN folded", "float32", True),
    ("mixed_bfloat16, BatchNorm layers", "mixed_bfloat16", False),
    ("mixed_bfloat16, BN folded", "mixed_bfloat16", True),
)


def time_call(extract, batch):
    start = time.perf_counter()
    extract(batch).numpy()
    return time.perf_counter() - start


FLAGS = flags.FLAGS
flags.DEFINE_integer("repeats", 5, "Interleaved timed rounds.")
flags.DEFINE_integer("batch_size", 32, "Frames per feature batch.")


def main(argv):
    del argv
    args = FLAGS
    frames = video.read_all(video.sample_clip("bikes"), size=(299, 299))[:args.batch_size]
    batch = tf.constant(frames)
    extractors, features = {}, {}
    for label, dtype, fold in CONFIGURATIONS:
        extractors[label] = metrics.feature_extractor(dtype, fold)
        # The first call traces and creates oneDNN primitives: not throughput.
        features[label] = extractors[label](batch).numpy().astype(np.float64)
    # Rounds run every configuration once, so load from other processes hits them alike.
    seconds = {label: [] for label in extractors}
    for _ in range(args.repeats):
        for label, extract in extractors.items():
            seconds[label].append(time_call(extract, batch))
    rates = {label: len(frames) / statistics.median(times) for label, times in seconds.items()}
    baseline = CONFIGURATIONS[0][0]
    print(f"Inception-v3 pool features at 299x299, batch {len(frames)}, median of {args.repeats} interleaved rounds:")
    for label, _, _ in CONFIGURATIONS:
        print(f"  {label:34s} {rates[label]:7.1f} frames/s  (x{rates[label] / rates[baseline]:.2f} vs baseline)")
    reference = features[baseline]
    for label, _, _ in CONFIGURATIONS[1:]:
        error = np.abs(features[label] - reference).max() / np.abs(reference).max()
        shift = metrics.frechet_distance_of_features(features[label], reference)
        print(f"  {label:34s} max feature error {error:.1e} of the largest feature; "
              f"FID(float32 features, these) = {shift:.3g}")
    real_fid = metrics.frechet_distance_of_features(reference[: len(reference) // 2], reference[len(reference) // 2:])
    print(f"  for scale: FID between the two halves of the batch (float32) = {real_fid:.1f}")


if __name__ == "__main__":
    cli.run(main)
