"""Decode + crop + resize throughput, and frame-store batch delivery; prints medians.

    python bench/bench_io.py [--repeats=5]
Goals on the 2-core dev machine: >= 400 frames/s decoding 720p to 256x144, >= 2,000 frames/s from
the frame store in shuffled batches of 12.
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


def main(argv):
    del argv
    args = FLAGS
    for name in ("bigbuckbunny", "bikes"):
        path = video.sample_clip(name)
        info = video.probe(path)
        rate, count = decode_rate(path, args.repeats)
        naive = naive_decode_rate(path, args.repeats)
        print(f"decode+crop+resize {name} {info.width}x{info.height} -> 256x144: {rate:,.0f} frames/s "
              f"(median of {args.repeats}, {count} frames); naive full-RGB + cv2 (same decoder threads): "
              f"{naive:,.0f} frames/s (x{rate / naive:.2f})")
    with tempfile.TemporaryDirectory() as cache:
        store = framestore.FrameStore.open_or_build(video.sample_clip("bikes"), size=(256, 144), aspect="16:9",
                                                    cache_dir=cache, progress=False)
        print(f"frame store shuffled batches of 12 at 256x144: {store_rate(store, args.repeats):,.0f} frames/s "
              f"(median of {args.repeats})")


if __name__ == "__main__":
    cli.run(main)
