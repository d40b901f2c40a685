"""Inception feature extraction (FID) at 299x299: float32 vs mixed_bfloat16, BN kept vs folded.

    python bench/bench_metrics.py [--repeats=5] [--batch_size=32] [--refresh_peak]

First the machine line (videocore.machine: CPU, ISA, TensorFlow, oneDNN, compute dtype, measured peak), then
one table row per configuration: seconds per batch, GFLOP/s and % of that peak from the network's FLOPs
counted from the Keras model's layer shapes at 299x299 (`model_flops`: Conv2D and Dense; BN, pooling and
the resize are left out), and the ratio against the naive baseline: the plain graph (BatchNorm layers) in
float32. Every row runs the same tf.function (uint8 in, resize, scale, network) on the same frames of the
bundled "bikes" clip. Also prints how far bf16 features and FID move from float32 ones. Medians; other
processes on the machine make every figure slower (the "others" column).
"""
import pathlib
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from absl import flags  # noqa: E402

from videocore import cli  # noqa: E402  (before TensorFlow loads: it quiets TF's start-up chatter)

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from videocore import inception  # noqa: E402
from videocore import machine  # noqa: E402
from videocore import metrics  # noqa: E402
from videocore import video  # noqa: E402

CONFIGURATIONS = (  # (label, dtype, fold_batchnorm); the first is the naive baseline
    ("float32, BatchNorm layers", "float32", False),
    ("float32, BN folded", "float32", True),
    ("mixed_bfloat16, BatchNorm layers", "mixed_bfloat16", False),
    ("mixed_bfloat16, BN folded", "mixed_bfloat16", True),
)


def model_flops(model, input_shape):
    """FLOPs of one forward pass of a Keras functional `model` on one input of `input_shape` (H, W, C).

    Counted from the layer shapes of a copy built for that input: Conv2D 2*H_out*W_out*k_h*k_w*C_in*C_out,
    Dense 2*in*out per position; every other layer (BN, pooling, activations) counts 0.
    """
    sized = keras.models.clone_model(model, input_tensors=keras.Input(input_shape))
    total = 0
    for layer in sized.layers:
        if isinstance(layer, keras.layers.Conv2D):
            _, out_h, out_w, out_ch = layer.output.shape
            kernel_h, kernel_w, in_ch, _ = layer.kernel.shape  # groups=1 in InceptionV3
            total += machine.conv2d_flops(1, out_h, out_w, kernel_h, kernel_w, in_ch, out_ch)
        elif isinstance(layer, keras.layers.Dense):
            positions = int(np.prod(layer.output.shape[1:-1]))
            total += positions * machine.matmul_flops(1, layer.kernel.shape[0], layer.kernel.shape[1])
    return total


def time_call(extract, batch):
    start = time.perf_counter()
    extract(batch).numpy()
    return time.perf_counter() - start


FLAGS = flags.FLAGS
flags.DEFINE_integer("repeats", 5, "Interleaved timed rounds.")
flags.DEFINE_integer("batch_size", 32, "Frames per feature batch.")
flags.DEFINE_bool("refresh_peak", False, "Measure the machine's peak again instead of reading it from the cache.")


def main(argv):
    del argv
    args = FLAGS
    info = machine.describe()
    peak = machine.measure_peak(info.policy, info=info, refresh=args.refresh_peak)
    print(machine.header_line(info, peak), flush=True)
    frames = video.read_all(video.sample_clip("bikes"), size=(299, 299))[:args.batch_size]
    batch = tf.constant(frames)
    extractors, features = {}, {}
    for label, dtype, fold in CONFIGURATIONS:
        extractors[label] = metrics.feature_extractor(dtype, fold)
        # The first call traces and creates oneDNN primitives: not throughput.
        features[label] = extractors[label](batch).numpy().astype(np.float64)
    # Rounds run every configuration once, so load from other processes hits them alike.
    seconds = {label: [] for label in extractors}
    with machine.OtherLoad() as load:
        for _ in range(args.repeats):
            for label, extract in extractors.items():
                seconds[label].append(time_call(extract, batch))
    medians = {label: statistics.median(times) for label, times in seconds.items()}
    baseline = CONFIGURATIONS[0][0]
    per_frame = model_flops(inception.build("fid"), (metrics.FID_SIZE, metrics.FID_SIZE, 3))
    print(f"\nInception-v3 pool features at 299x299, batch {len(frames)}, median of {args.repeats} interleaved rounds; "
          f"{per_frame / 1e9:.1f} GFLOP per frame (Conv2D + Dense, from the layer shapes):")
    print(machine.table_header("frames/s", "others"))
    for label, _, _ in CONFIGURATIONS:
        name = label + (" (baseline)" if label == baseline else "")
        print(machine.row(name, medians[label], per_frame * len(frames), peak, medians[baseline],
                          extra=(f"{len(frames) / medians[label]:.1f}", f"{load.fraction:.0%}")))
    print(f"% of peak: of the {peak.policy} peak on the machine line, whatever dtype a row ran in; others: share of "
          "the CPUs other processes used during all the rounds (0% = quiet machine)\n")
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
