"""Decode + crop + resize throughput, and frame-store batch delivery; prints medians.

    python bench/bench_io.py [--repeats=5] [--refresh_peak]

First the machine line (videocore.machine: CPU, ISA, TensorFlow, oneDNN, compute dtype, measured peak), then
each workload as a table row, time per frame: decoding has no honest FLOP count, so GFLOP/s and % of peak
read "—" and the figure that travels between machines is the ratio against a baseline timed in the same run.
1. Ours (videocore.video.read_frames: crops and resizes the YUV planes, then converts the small result to RGB)
   against the straightforward baseline: full-size RGB, then crop and resize with OpenCV, same decoder threads.
2. The frame store in shuffled batches of 12 at 256x144 (what training reads) against ours decoding the 720p
   clip to the same size (what each epoch of a film would cost without the store; a stored 256x144 frame
   costs the same whichever clip it came from).
Goals, as ratios within one run: ours decodes faster than the baseline (x baseline > 1) on both clips; the
store delivers frames >= 5x as fast as ours decodes them (x baseline >= 5), so that a training step never
waits for frames a decoder could not keep up with.
"""

import statistics
import sys
import tempfile
import time
import pathlib

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from absl import flags  # noqa: E402

from videocore import cli  # noqa: E402  (before TensorFlow loads: it quiets TF's start-up chatter)

from videocore import data  # noqa: E402
from videocore import machine  # noqa: E402
from videocore import framestore  # noqa: E402
from videocore import video  # noqa: E402


def decode_rate(path, repeats):
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        count = sum(1 for _ in video.read_frames(path, aspect="16:9", size=(256, 144)))
        rates.append(count / (time.perf_counter() - start))
    return statistics.median(rates), count


def naive_decode_rate(path, repeats):
    """Baseline: decode to full-size RGB, then crop and resize with OpenCV (what most scripts do).

    The decoder threads as ours does (thread_type AUTO), so the ratio measures the resize trick only.
    """
    import av
    import cv2
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        count = 0
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                rgb = frame.to_ndarray(format="rgb24")
                x, y, w, h = video.crop_box(rgb.shape[1], rgb.shape[0], 16 / 9)
                cv2.resize(rgb[y:y + h, x:x + w], (256, 144), interpolation=cv2.INTER_AREA)
                count += 1
        rates.append(count / (time.perf_counter() - start))
    return statistics.median(rates)


def store_rate(store, repeats, batches=400):
    rates = []
    for _ in range(repeats):
        dataset = data.shuffled_batches([store], 12, seed=0)
        iterator = iter(dataset)
        next(iterator)  # pipeline start-up is not delivery
        start = time.perf_counter()
        for _ in range(batches):
            next(iterator)
        rates.append(batches * 12 / (time.perf_counter() - start))
    return statistics.median(rates)


FLAGS = flags.FLAGS
flags.DEFINE_integer("repeats", 5, "Timed runs per measurement (medians are printed).")
flags.DEFINE_bool("refresh_peak", False, "Measure the machine's peak again instead of reading it from the cache.")

GOALS = {"decode": 1.0, "store": 5.0}  # x baseline: ours vs full RGB + cv2; the store vs ours decoding 720p


def main(argv):
    del argv
    args = FLAGS
    info = machine.describe()
    peak = machine.measure_peak(info.policy, info=info, refresh=args.refresh_peak)
    print(machine.header_line(info, peak), flush=True)
    print(f"\nper frame, median of {args.repeats} runs (no FLOP count for decoding: GFLOP/s and % of peak \"—\"):")
    print(machine.table_header("frames/s", "others"))
    ours_seconds = {}
    for name in ("bigbuckbunny", "bikes"):
        path = video.sample_clip(name)
        clip = video.probe(path)
        with machine.OtherLoad() as ours_load:
            rate, count = decode_rate(path, args.repeats)
        with machine.OtherLoad() as naive_load:
            naive = naive_decode_rate(path, args.repeats)
        ours_seconds[name] = 1 / rate
        what = f"{name} {clip.width}x{clip.height} -> 256x144, {count} frames"
        print(machine.row(f"decode+crop+resize {what}, full RGB + cv2 (baseline)", 1 / naive, None, peak, 1 / naive,
                          extra=(f"{naive:,.0f}", f"{naive_load.fraction:.0%}")))
        print(machine.row(f"decode+crop+resize {what}, ours", 1 / rate, None, peak, 1 / naive,
                          extra=(f"{rate:,.0f}", f"{ours_load.fraction:.0%}")), flush=True)
    with tempfile.TemporaryDirectory() as cache:
        store = framestore.FrameStore.open_or_build(video.sample_clip("bikes"), size=(256, 144), aspect="16:9",
                                                    cache_dir=cache, progress=False)
        with machine.OtherLoad() as load:
            rate = store_rate(store, args.repeats)
    print(machine.row("frame store, shuffled batches of 12 at 256x144 (baseline: ours decoding 720p)", 1 / rate, None,
                      peak, ours_seconds["bigbuckbunny"], extra=(f"{rate:,.0f}", f"{load.fraction:.0%}")))
    print(f"goals: ours x baseline > {GOALS['decode']:.0f} on both clips; the frame store x baseline >= "
          f"{GOALS['store']:.0f}; others: share of the CPUs other processes used meanwhile (0% = quiet machine)")


if __name__ == "__main__":
    cli.run(main)
