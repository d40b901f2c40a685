"""videocore.machine: analytic FLOPs against hand counts and the real models, the machine probe, the cached peak."""
import dataclasses
import json
import math
import pathlib

import keras
import pytest
import tensorflow as tf

from vaegan_video import configs
from vaegan_video import models
from vaegan_video import plan
from videocore import machine
from videocore import precision


def test_conv2d_flops_of_the_vaegan_encoders_second_layer_by_hand():
    # Published model, enc2: 128x72x80 -> 64x36x160, 5x5 stride 2: 36*64 outputs * 25*80*160 MACs, 2 FLOPs each.
    assert machine.conv2d_flops(1, 36, 64, 5, 5, 80, 160) == 2 * 2304 * 320_000 == 1_474_560_000
    assert machine.conv2d_flops(12, 36, 64, 5, 5, 80, 160) == 12 * 1_474_560_000
    assert machine.conv3d_flops(2, 8, 16, 16, 4, 4, 4, 3, 64) == 2 * 2 * (8 * 16 * 16) * 64 * 3 * 64
    assert machine.matmul_flops(2, 3, 4) == 48


def _layer_flops(net):
    """FLOPs of one frame through `net`, counted from its Keras layers' shapes with machine's helpers."""
    total = 0
    for layer in net.layers:
        if isinstance(layer, keras.layers.Conv2DTranspose):  # the work of the conv it mirrors: its input's size
            _, height, width, channels = layer.input.shape
            total += machine.conv2d_flops(1, height, width, *layer.kernel_size, channels, layer.filters)
        elif isinstance(layer, keras.layers.Conv2D):
            _, height, width, _ = layer.output.shape
            total += machine.conv2d_flops(1, height, width, *layer.kernel_size, layer.input.shape[-1], layer.filters)
        elif isinstance(layer, keras.layers.Dense):
            total += machine.matmul_flops(1, layer.input.shape[-1], layer.units)
    return total


def test_layer_counts_of_the_built_vaegan_match_the_plans_step_flops():
    config = configs.tiny()
    nets = models.build(config)
    encoder, decoder, discriminator = (_layer_flops(nets[name]) for name in ("encoder", "decoder", "discriminator"))
    assert encoder > 0 and decoder > 0 and discriminator > 0
    macs = plan.network_macs_per_frame(config.model)
    assert (encoder, decoder, discriminator) == (2 * macs["encoder"], 2 * macs["decoder"], 2 * macs["discriminator"])
    assert plan.reconstruction_flops_per_frame(config.model) == encoder + decoder
    # Algorithm 1's forward pass: Enc once, Dec twice, Dis three times.
    assert encoder + 2 * decoder + 3 * discriminator == 2 * plan.forward_macs_per_frame(config.model)
    assert plan.step_flops(config) == 3 * config.loop.batch_size * (encoder + 2 * decoder + 3 * discriminator)


def _cpuinfo_fields(path="/proc/cpuinfo"):
    text = pathlib.Path(path).read_text()
    processors = sum(1 for line in text.splitlines() if line.startswith("processor"))
    model = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")), None)
    return processors, model


def test_describe_agrees_with_proc_cpuinfo_and_tensorflow():
    info = machine.describe()
    assert info.tensorflow == tf.__version__
    assert isinstance(info.onednn, bool)
    assert info.policy == precision.choose_policy("auto")
    assert info.isa == tuple(flag for flag in machine.ISA_FLAGS if flag in precision.cpu_flags())
    assert isinstance(info.gpu, str) and bool(info.gpu) == bool(tf.config.list_physical_devices("GPU"))
    if not pathlib.Path("/proc/cpuinfo").exists():
        pytest.skip("no /proc/cpuinfo here")
    processors, model = _cpuinfo_fields()
    assert info.cores == processors
    if model is not None:
        assert info.cpu_model == model


def test_describe_reads_the_cpuinfo_it_is_given(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Test CPU 9000\nflags\t\t: fpu sse amx_tile avx2 avx512_bf16\n\n")
    info = machine.describe(cpuinfo_path=cpuinfo)
    assert info.cpu_model == "Test CPU 9000"
    assert info.isa == ("avx2", "avx512_bf16", "amx_tile")  # ISA_FLAGS' order, avx512f absent
    other = tmp_path / "other"
    other.write_text(cpuinfo.read_text().replace("amx_tile ", ""))
    assert machine.describe(cpuinfo_path=other).cpu_flags_digest != info.cpu_flags_digest


TINY = dict(conv_shape=(1, 8, 8, 4, 8, 3), matmul_size=32)


def test_measure_peak_on_tiny_sizes_is_positive_and_cached(tmp_path, monkeypatch):
    monkeypatch.setattr(machine, "BUSY", math.inf)  # reuse the cache however busy this machine is now
    info = machine.describe()
    peak = machine.measure_peak("float32", repeats=2, directory=tmp_path, info=info, **TINY)
    assert not peak.cached
    assert math.isfinite(peak.conv) and peak.conv > 0 and math.isfinite(peak.matmul) and peak.matmul > 0
    assert peak.flops_per_second == max(peak.conv, peak.matmul)
    written = list(tmp_path.glob("*.json"))
    assert [path.name for path in written] == [machine.cache_key(info, "float32", **TINY) + ".json"]
    stored = json.loads(written[0].read_text())
    assert stored["conv"] == peak.conv and stored["machine"]["cpu_model"] == info.cpu_model

    def no_measuring(*args):
        raise AssertionError("measured again instead of reading the cache")

    monkeypatch.setattr(machine, "_measure", no_measuring)
    again = machine.measure_peak("float32", repeats=2, directory=tmp_path, info=info, **TINY)
    assert again.cached and (again.conv, again.matmul, again.measured_at) == (peak.conv, peak.matmul, peak.measured_at)


def _fake_measure(calls, conv=3e9, matmul=2e9, others=0.0):
    def measure(policy, repeats, conv_shape, matmul_size):
        calls.append(policy)
        return conv, matmul, others
    return measure


def test_cache_is_per_policy_refreshable_and_survives_a_damaged_file(tmp_path, monkeypatch):
    info = machine.describe()
    calls = []
    monkeypatch.setattr(machine, "_measure", _fake_measure(calls))
    machine.measure_peak("float32", directory=tmp_path, info=info)
    machine.measure_peak("float32", directory=tmp_path, info=info)
    assert calls == ["float32"]
    machine.measure_peak("mixed_bfloat16", directory=tmp_path, info=info)
    machine.measure_peak("float32", directory=tmp_path, info=info, refresh=True)
    assert calls == ["float32", "mixed_bfloat16", "float32"]
    newer_tf = dataclasses.replace(info, tensorflow=info.tensorflow + ".post1")
    assert machine.cache_key(newer_tf, "float32") != machine.cache_key(info, "float32")
    path = tmp_path / (machine.cache_key(info, "float32") + ".json")
    path.write_text("{not json")
    assert machine.measure_peak("float32", directory=tmp_path, info=info).conv == 3e9
    assert calls[-1] == "float32" and len(calls) == 4 and json.loads(path.read_text())["conv"] == 3e9
    assert not list(tmp_path.glob(".*partial*"))  # atomic writes leave no temporary file behind


def test_a_peak_cached_on_a_busy_machine_is_measured_again_and_the_best_kept(tmp_path, monkeypatch):
    info = machine.describe()
    calls = []
    monkeypatch.setattr(machine, "_measure", _fake_measure(calls, conv=1e9, matmul=1e9, others=0.6))
    busy = machine.measure_peak("float32", directory=tmp_path, info=info)
    monkeypatch.setattr(machine, "_measure", _fake_measure(calls, conv=5e8, matmul=5e8, others=0.6))
    assert machine.measure_peak("float32", directory=tmp_path, info=info).flops_per_second == 1e9  # best stands
    monkeypatch.setattr(machine, "_measure", _fake_measure(calls, conv=4e9, matmul=1e9, others=0.0))
    quiet = machine.measure_peak("float32", directory=tmp_path, info=info)
    assert (busy.others, quiet.flops_per_second, quiet.cached) == (0.6, 4e9, False)
    assert machine.measure_peak("float32", directory=tmp_path, info=info).cached  # quiet now: reused
    assert len(calls) == 3


def _machine_and_peak(**changes):
    info = machine.Machine(cpu_model="AMD EPYC", cores=2, isa=("avx2", "avx512f", "avx512_bf16"),
                           cpu_flags_digest="0" * 64, gpu="", tensorflow="2.21.0", onednn=True, onednn_isa_cap="",
                           policy="mixed_bfloat16")
    peak = machine.Peak(conv=298e9, matmul=312e9, policy="mixed_bfloat16", measured_at="2025-01-02T03:04:05+00:00",
                        others=0.0, cached=True)
    return dataclasses.replace(info, **changes), peak


def test_header_line_names_the_machine_and_its_peak():
    info, peak = _machine_and_peak()
    line = machine.header_line(info, peak)
    assert line.startswith("machine: AMD EPYC, 2 cores, avx2 avx512f avx512_bf16; TF 2.21.0, oneDNN on; "
                           "compute mixed_bfloat16; measured peak 312 GFLOP/s (conv 298, matmul 312; ")
    assert "cached from 2025-01-02" in line and "\n" not in line
    info, peak = _machine_and_peak(isa=(), onednn=False, gpu="NVIDIA H200", onednn_isa_cap="AVX2")
    line = machine.header_line(info, dataclasses.replace(peak, cached=False, others=0.5))
    assert "no AVX2; GPU NVIDIA H200" in line and "oneDNN off, ONEDNN_MAX_CPU_ISA=AVX2" in line
    assert "measured now, others 50% busy" in line


def test_row_computes_rate_share_of_peak_and_speed_up():
    _, peak = _machine_and_peak()  # peak 312 GFLOP/s
    assert machine.row("step", 2.0, 312e9, peak, baseline_seconds=3.0) == "| step | 2 s | 156 | 50.0 % | x1.50 |"
    assert machine.row("layer", 0.0125, 1e9, 400e9, extra=("a", 7)) == "| layer | 12.5 ms | 80.0 | 20.0 % |  | a | 7 |"
    assert machine.row("tiny", 1.0, 4.1e7, 1e12) == "| tiny | 1 s | 0.041 | 0.0041 % |  |"
    assert machine.row("end to end", 1.5, None, peak) == "| end to end | 1.5 s | — | — |  |"
    assert machine.percent_of_peak(1.0, 78e9, peak) == pytest.approx(25.0)
    header = machine.TABLE_HEADER.splitlines()
    assert len(header) == 2 and header[0].count("|") == machine.row("x", 1.0, 1.0, 1.0).count("|")
    assert machine.table_header("clips/s").splitlines()[1] == "|---|" + "---:|" * 5


def test_main_prints_the_header_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NEURAL_VIDEO_CACHE", str(tmp_path))
    monkeypatch.setattr(machine, "_measure", _fake_measure([], conv=2e11, matmul=1e11))
    machine.main(["--policy=float32"])
    out = capsys.readouterr().out
    assert out.startswith("machine: ") and "compute float32; measured peak 200 GFLOP/s (conv 200, matmul 100" in out
    assert len(list((tmp_path / "machine").glob("*.json"))) == 1
