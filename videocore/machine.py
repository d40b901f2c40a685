"""One probe of the machine for every benchmark: what it is and the FLOP/s it reaches, so figures read alike anywhere.

A bench's seconds only compare across machines as a share of what the machine can do. `describe()` names
the CPU / GPU, the ISA features that decide the dtype, TensorFlow and oneDNN; `measure_peak(policy)` times
one large 2D convolution (forward + backward) and one large matmul in the policy's compute dtype and keeps
the faster rate as the peak, cached per machine under ~/.cache/neural_video/machine/. A bench prints
`header_line` first, then its rows as `TABLE_HEADER` + `row(...)`: time, GFLOP/s from an analytic count,
% of that peak and the ratio against its straightforward baseline.

    python -m videocore.machine [--refresh]   # the header line; --refresh measures the peak again

TensorFlow is imported inside the functions, so that the main above can quiet its start-up chatter first.
"""

import argparse
import dataclasses
import datetime
import hashlib
import json
import math
import os
import pathlib
import platform
import subprocess
import time

from videocore import files

# The /proc/cpuinfo flags that decide which dtype and kernels TensorFlow gets (videocore.precision, .device).
ISA_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_tile")
# The peak's workloads: (batch, height, width, in channels, out channels, kernel) of a stride-1 'same' conv,
# timed forward + backward (the VAE-GAN's second layer's input at stride 1: 141 GFLOP, ~0.3 s in bf16 on 2
# EPYC cores), and the side of a square matmul (17 GFLOP).
CONV_SHAPE = (8, 72, 128, 80, 160, 5)
MATMUL_SIZE = 2048
CACHE_VERSION = 1
# A cached peak measured while other processes used more than this share of the CPUs is measured again.
BUSY = 0.1

TABLE_COLUMNS = ("workload", "time", "GFLOP/s", "% of peak", "x baseline")


@dataclasses.dataclass(frozen=True)
class Machine:
    """What a bench ran on."""
    cpu_model: str
    cores: int  # logical cores (os.cpu_count())
    isa: tuple  # the ISA_FLAGS this CPU has, in ISA_FLAGS' order
    cpu_flags_digest: str  # sha256 of every /proc/cpuinfo flag, sorted (the cache key's share of the flags)
    gpu: str  # TensorFlow's name for its first GPU, "" for none
    tensorflow: str
    onednn: bool
    onednn_isa_cap: str  # $ONEDNN_MAX_CPU_ISA, "" if unset
    policy: str  # what precision.choose_policy("auto") picks here


@dataclasses.dataclass(frozen=True)
class Peak:
    """The measured peak in FLOP/s (the faster of the two workloads) in `policy`'s compute dtype."""
    conv: float  # FLOP/s
    matmul: float  # FLOP/s
    policy: str
    measured_at: str  # UTC, ISO 8601
    others: float  # share of the machine's CPU time other processes used while it was measured (0 = quiet)
    cached: bool  # read back from the cache rather than measured in this process

    @property
    def flops_per_second(self):
        return max(self.conv, self.matmul)


def cpu_model_name(cpuinfo_path="/proc/cpuinfo"):
    """The CPU's model name: /proc/cpuinfo's "model name", else lscpu's "Model name", else platform's guess."""
    try:
        for line in pathlib.Path(cpuinfo_path).read_text().splitlines():
            if line.startswith("model name") and ":" in line:
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10, check=False).stdout
        for line in text.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return platform.processor() or "unknown CPU"


def gpu_name():
    """TensorFlow's name for its first GPU ("NVIDIA H200"), "" when it sees none."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return ""
    details = tf.config.experimental.get_device_details(gpus[0])
    name = details.get("device_name") or gpus[0].name
    return f"{len(gpus)}x {name}" if len(gpus) > 1 else name


def describe(cpuinfo_path="/proc/cpuinfo"):
    """The `Machine` this process runs on."""
    import tensorflow as tf

    from videocore import device
    from videocore import precision

    flags = precision.cpu_flags(cpuinfo_path)
    return Machine(
        cpu_model=cpu_model_name(cpuinfo_path),
        cores=os.cpu_count() or 1,
        isa=tuple(flag for flag in ISA_FLAGS if flag in flags),
        cpu_flags_digest=hashlib.sha256(" ".join(sorted(flags)).encode()).hexdigest(),
        gpu=gpu_name(),
        tensorflow=tf.__version__,
        onednn=device.onednn_enabled(),
        onednn_isa_cap=os.environ.get("ONEDNN_MAX_CPU_ISA", ""),
        policy=precision.choose_policy("auto", flags=flags),
    )


# ----------------------------------------------------------------------------- analytic FLOPs


def conv2d_flops(batch, out_h, out_w, kernel_h, kernel_w, in_ch, out_ch):
    """FLOPs (2 per multiply-accumulate) of a 2D convolution's forward pass, counted from its output size.

    A transposed convolution does the work of the convolution it mirrors: pass its *input* size as
    out_h, out_w, and its in_ch / out_ch as they are.
    """
    return 2 * batch * out_h * out_w * kernel_h * kernel_w * in_ch * out_ch


def conv3d_flops(batch, out_t, out_h, out_w, kernel_t, kernel_h, kernel_w, in_ch, out_ch):
    """FLOPs of a 3D convolution's forward pass (as conv2d_flops, with a time axis)."""
    return 2 * batch * out_t * out_h * out_w * kernel_t * kernel_h * kernel_w * in_ch * out_ch


def matmul_flops(m, k, n):
    """FLOPs of an (m, k) @ (k, n) matmul."""
    return 2 * m * k * n


# ----------------------------------------------------------------------------- the measured peak


class OtherLoad:
    """Measures how much of the machine's CPU time other processes took while the block ran (0 = quiet).

    `fraction` is set on leaving the block; NaN where /proc/stat cannot be read."""

    @staticmethod
    def _busy_seconds():
        with open("/proc/stat") as file:
            values = [int(v) for v in file.readline().split()[1:]]
        idle = values[3] + values[4]  # idle + iowait
        return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")

    def __enter__(self):
        try:
            busy = self._busy_seconds()
        except (OSError, ValueError, IndexError):
            busy = None
        self.start = (time.perf_counter(), time.process_time(), busy)
        self.fraction = float("nan")
        return self

    def __exit__(self, *exc_info):
        if self.start[2] is None:
            return
        wall, own, busy = (now - then for now, then in zip(
            (time.perf_counter(), time.process_time(), self._busy_seconds()), self.start))
        self.fraction = min(1.0, max(0.0, (busy - own) / ((os.cpu_count() or 1) * max(wall, 1e-9))))


def _best_seconds(run, repeats):
    """The fastest of `repeats` timed calls of `run` after one warm-up call (tracing, kernel selection)."""
    run()
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def _measure(policy, repeats, conv_shape, matmul_size):
    """(conv FLOP/s, matmul FLOP/s, others): each the best of `repeats` timed runs in policy's compute dtype."""
    import keras
    import tensorflow as tf

    dtype = keras.mixed_precision.Policy(policy).compute_dtype
    batch, height, width, in_ch, out_ch, kernel = conv_shape
    x = tf.cast(tf.random.stateless_normal((batch, height, width, in_ch), seed=(1, 2)), dtype)
    kernel_weights = tf.cast(tf.random.stateless_normal((kernel, kernel, in_ch, out_ch), seed=(3, 4)) * 0.01, dtype)
    a = tf.cast(tf.random.stateless_normal((matmul_size, matmul_size), seed=(5, 6)), dtype)
    b = tf.cast(tf.random.stateless_normal((matmul_size, matmul_size), seed=(7, 8)) * 0.01, dtype)

    # Forward and backward (input and weight gradients): oneDNN's backward kernels reach a higher rate than its
    # forward one (bf16 on the EPYC: ~1.2x), and a training step runs both; 3x the forward FLOPs.
    # The sums, fetched, make the timer wait for the ops; they cost one pass over each result.
    @tf.function
    def conv():
        with tf.GradientTape() as tape:
            tape.watch(kernel_weights)
            tape.watch(x)
            y = tf.nn.conv2d(x, kernel_weights, strides=1, padding="SAME")
            loss = tf.reduce_sum(tf.cast(y, tf.float32))
        grad_x, grad_kernel = tape.gradient(loss, [x, kernel_weights])
        return tf.reduce_sum(tf.cast(grad_x, tf.float32)) + tf.reduce_sum(tf.cast(grad_kernel, tf.float32))

    @tf.function
    def matmul():
        return tf.reduce_sum(tf.cast(tf.linalg.matmul(a, b), tf.float32))

    with OtherLoad() as load:
        conv_seconds = _best_seconds(lambda: conv().numpy(), repeats)
        matmul_seconds = _best_seconds(lambda: matmul().numpy(), repeats)
    conv_rate = 3 * conv2d_flops(batch, height, width, kernel, kernel, in_ch, out_ch) / conv_seconds
    matmul_rate = matmul_flops(matmul_size, matmul_size, matmul_size) / matmul_seconds
    return conv_rate, matmul_rate, load.fraction


def cache_dir():
    """`$NEURAL_VIDEO_CACHE/machine` or `~/.cache/neural_video/machine`."""
    root = os.environ.get("NEURAL_VIDEO_CACHE") or pathlib.Path.home() / ".cache" / "neural_video"
    return pathlib.Path(root) / "machine"


def cache_key(info, policy, conv_shape=CONV_SHAPE, matmul_size=MATMUL_SIZE):
    """Hex digest naming one machine + software + dtype + workload: the peak's cache file name."""
    fields = dataclasses.asdict(info)
    fields.update(policy=policy, conv_shape=list(conv_shape), matmul_size=matmul_size, version=CACHE_VERSION)
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:20]


def _read_cached(path, policy):
    try:
        stored = json.loads(path.read_text())
        return Peak(conv=float(stored["conv"]), matmul=float(stored["matmul"]), policy=policy,
                    measured_at=str(stored["measured_at"]), others=float(stored["others"]), cached=True)
    except (OSError, ValueError, KeyError, TypeError):
        return None  # absent or damaged: measure again


def _peak_path(directory, info, policy, conv_shape=CONV_SHAPE, matmul_size=MATMUL_SIZE):
    return pathlib.Path(directory or cache_dir()) / f"{cache_key(info, policy, conv_shape, matmul_size)}.json"


def cached_peak(policy, *, directory=None, info=None):
    """The peak measure_peak cached for this machine and `policy`, or None: never measures."""
    return _read_cached(_peak_path(directory, info or describe(), policy), policy)


def measure_peak(policy, repeats=5, *, refresh=False, directory=None, info=None, conv_shape=CONV_SHAPE,
                 matmul_size=MATMUL_SIZE):
    """This machine's peak in `policy`'s compute dtype (a Peak: conv and matmul FLOP/s, the larger is the peak).

    Read from the cache (`directory`, default `cache_dir()`) when this machine, TensorFlow, oneDNN setting,
    policy and workload sizes were measured before, unless `refresh`; otherwise measured (a few seconds at the
    default sizes) and written there atomically. `info` is describe()'s answer if the caller has it.
    A peak measured while other processes took more than BUSY of the CPUs is low: such a cached peak is
    measured again on each call and the higher of the two kept, until a quiet measurement replaces it.
    """
    info = info or describe()
    path = _peak_path(directory, info, policy, conv_shape, matmul_size)
    cached = None if refresh else _read_cached(path, policy)
    if cached is not None and not cached.others > BUSY:
        return cached
    conv, matmul, others = _measure(policy, repeats, tuple(conv_shape), matmul_size)
    peak = Peak(conv=conv, matmul=matmul, policy=policy, others=others, cached=False,
                measured_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
    if cached is not None and cached.flops_per_second >= peak.flops_per_second:
        return cached  # a busy machine again: the best seen stands, and the next call tries once more
    record = {"conv": conv, "matmul": matmul, "measured_at": peak.measured_at, "others": others,
              "repeats": repeats, "conv_shape": list(conv_shape), "matmul_size": matmul_size, "policy": policy,
              "machine": dataclasses.asdict(info)}
    with files.atomic_path(path) as temp:
        temp.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    return peak


# ----------------------------------------------------------------------------- what a bench prints


def header_line(info, peak):
    """One line naming the machine and its measured peak, for the top of every bench's output."""
    cpu = f"{info.cpu_model}, {info.cores} cores, {' '.join(info.isa) or 'no AVX2'}"
    if info.gpu:
        cpu += f"; GPU {info.gpu}"
    cap = f", ONEDNN_MAX_CPU_ISA={info.onednn_isa_cap}" if info.onednn_isa_cap else ""
    when = f"cached from {peak.measured_at}" if peak.cached else "measured now"
    load = "" if math.isnan(peak.others) else f", others {peak.others:.0%} busy"
    return (f"machine: {cpu}; TF {info.tensorflow}, oneDNN {'on' if info.onednn else 'off'}{cap}; "
            f"compute {peak.policy}; measured peak {peak.flops_per_second / 1e9:,.0f} GFLOP/s "
            f"(conv {peak.conv / 1e9:,.0f}, matmul {peak.matmul / 1e9:,.0f}; {when}{load})")


def table_header(*extra_columns):
    """The markdown header (two lines) of `row`'s table, with `extra_columns` after the standard five."""
    columns = TABLE_COLUMNS + tuple(extra_columns)
    return "| " + " | ".join(columns) + " |\n|---|" + "---:|" * (len(columns) - 1)


TABLE_HEADER = table_header()


def gflops_per_second(seconds, flops):
    return flops / seconds / 1e9


def percent_of_peak(seconds, flops, peak):
    """The share of `peak` (a Peak or FLOP/s) that `flops` in `seconds` reached, in %."""
    rate = peak.flops_per_second if isinstance(peak, Peak) else float(peak)
    return 100.0 * flops / seconds / rate


def _figure(value):
    """Three-ish significant figures without exponents: 1,234 / 56.7 / 0.089."""
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if value >= 1 else f"{value:.2g}"


def _duration(seconds):
    return f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def row(name, seconds, flops, peak, baseline_seconds=None, extra=()):
    """One markdown table row: workload | time | GFLOP/s | % of peak | x baseline [| extra...].

    `flops` is the analytic count of one timed unit (None where there is no honest count: "—" then);
    `peak` a Peak or FLOP/s; x baseline is baseline_seconds / seconds (above 1: faster than the baseline).
    """
    if flops:
        rate, share = _figure(gflops_per_second(seconds, flops)), _figure(percent_of_peak(seconds, flops, peak)) + " %"
    else:
        rate = share = "—"
    speedup = f"x{baseline_seconds / seconds:.2f}" if baseline_seconds else ""
    cells = (name, _duration(seconds), rate, share, speedup) + tuple(str(cell) for cell in extra)
    return "| " + " | ".join(cells) + " |"


def main(argv=None):
    """Prints the header line; measures the peak if this machine's is not cached (or --refresh)."""
    from videocore import cli  # noqa: F401  (before TensorFlow loads: it quiets TF's start-up chatter)

    parser = argparse.ArgumentParser(prog="python -m videocore.machine", description=main.__doc__)
    parser.add_argument("--refresh", action="store_true", help="measure the peak again, replacing the cached one")
    parser.add_argument("--policy", default="auto", help="precision policy whose compute dtype is measured")
    args = parser.parse_args(argv)
    from videocore import precision

    info = describe()
    print(header_line(info, measure_peak(precision.choose_policy(args.policy), refresh=args.refresh, info=info)))


if __name__ == "__main__":
    main()
