"""Honest defaults: the training script's preset and the size / steps / time it prints before training."""

import json
import subprocess
import sys

import pytest

from tests import synthetic
from videocore import distribute
from videocore import framestore
from videocore import steptimes
from vaegan_video import configs
from vaegan_video import plan


def test_the_step_flops_are_the_forward_macs_times_six_per_frame():
    published = configs.dissertation()
    # 12 frames x (Enc + 2 Dec + 3 Dis) forward MACs, x2 FLOP per MAC, x3 forward + backward.
    assert plan.step_flops(published) == 2 * 3 * 12 * plan.forward_macs_per_frame(published.model)
    assert 950e9 < plan.step_flops(published) < 1000e9
    doubled = configs.dissertation()
    doubled.loop.batch_size = 24
    assert plan.step_flops(doubled) == 2 * plan.step_flops(published)


def test_describe_gives_the_measured_step_time_split_into_flops_and_overhead(tmp_path):
    film = synthetic.write_video(tmp_path / "film.mp4", num_frames=30, width=64, height=36)
    config = configs.dissertation()
    config.loop.precision = "float32"
    stores = framestore.load_stores([str(film)], size=(256, 144), aspect="16:9", cache_dir=str(tmp_path / "cache"),
                                    progress=False)
    assert plan.describe(config, stores).splitlines()[1].startswith("no time estimate yet")
    measured = steptimes.Measured(seconds=4.0, steps=6, measured_at="2026-12-03T00:00:00+00:00")
    first, second = plan.describe(config, stores, measured, flops_per_second=500e9).splitlines()
    assert "256x144" in first and "30 frames, 2 steps per epoch, 12 steps in all" in first
    # 2 steps of 4 s per epoch, 12 in all; the FLOPs at the peak and the rest as overhead.
    assert second.startswith("estimated ~4 s per step, ~8 s per epoch, ~48 s in all (median of 6 steps")
    compute = plan.step_flops(config) / 500e9
    assert f"{compute:.2g} s at the 500 GFLOP/s peak + {4.0 - compute:.2g} s per-step overhead" in second
    config.data.steps_per_epoch = 5
    assert "5 steps per epoch, 30 steps in all" in plan.describe(config, stores)


def test_calibrate_times_the_real_loop_once_then_reads_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURAL_VIDEO_STEP_TIMES", str(tmp_path / "cache" / "steps"))
    film = synthetic.write_video(tmp_path / "film.mp4", num_frames=12, width=64, height=36)
    config = configs.tiny()
    config.data.videos = (str(film),)
    config.data.cache_dir = str(tmp_path / "frames")
    strategy = distribute.start(config.loop)
    measured = plan.calibrate(config, strategy)
    assert measured.steps == plan.CALIBRATION_STEPS and 0 < measured.seconds < 60
    assert len(list((tmp_path / "cache" / "steps").glob("*.json"))) == 1
    assert plan.calibrate(config, strategy) == measured  # read back, not timed again
    bigger = configs.tiny()
    bigger.data.videos, bigger.data.cache_dir = config.data.videos, config.data.cache_dir
    bigger.loop.batch_size = 8  # another workload: its own entry
    assert plan.calibrate(bigger, strategy).measured_at
    assert len(list((tmp_path / "cache" / "steps").glob("*.json"))) == 2


STARTS_NO_TENSORFLOW = """
import sys
import tensorflow as tf
from tests import synthetic
from vaegan_video import configs, plan
from videocore import framestore

film = synthetic.write_video(sys.argv[1] + "/film.mp4", num_frames=12, width=64, height=36)
stores = framestore.load_stores([film], size=(256, 144), aspect="16:9", cache_dir=sys.argv[1], progress=False)
if sys.argv[2] == "measure":
    float(tf.reduce_sum(tf.ones((2, 2))))
print(plan.describe(configs.dissertation(), stores))
# Possible only while TensorFlow's runtime has not started, like making a multi-worker strategy.
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
print("runtime not started")
"""


def test_describe_runs_no_tensorflow_op(tmp_path):
    # vaegan_train prints it before a multi-worker strategy may exist; one op before that breaks the run.
    run = lambda mode: subprocess.run([sys.executable, "-c", STARTS_NO_TENSORFLOW, str(tmp_path), mode],  # noqa: E731
                                      capture_output=True, text=True, timeout=300)
    alone = run("describe")
    assert alone.returncode == 0 and "runtime not started" in alone.stdout, alone.stderr[-2000:]
    after_an_op = run("measure")  # the check itself can fail: one op starts the runtime
    assert after_an_op.returncode != 0 and "runtime not started" not in after_an_op.stdout


@pytest.mark.slow  # a full-size model built in a subprocess: ~28 s; test_describe_* covers the plan
def test_the_script_defaults_to_the_published_model_and_prints_the_plan(tmp_path):
    film = synthetic.write_video(tmp_path / "film.mp4", num_frames=12, width=64, height=36)
    # The default preset with everything but the size: two steps of it at 32x32.
    args = [sys.executable, "-m", "run_scripts.vaegan_train", f"--workdir={tmp_path / 'work'}", f"--video={film}",
            "--config.model.height=32", "--config.model.width=32", "--config.model.filters=(8, 16, 16, 32)",
            "--config.model.latent_dim=8", "--config.loop.batch_size=4", "--config.loop.num_epochs=0",
            "--config.loop.num_steps=2", "--config.loop.precision=float32", f"--config.data.cache_dir={tmp_path}/c"]
    result = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[0].startswith("VAE-GAN 32x32") and "3 steps per epoch, 2 steps in all" in lines[0]
    assert "per step" in lines[1]
    assert lines[-1].startswith("stopped at step 2")
    saved = json.loads((tmp_path / "work" / "config.json").read_text())
    # The dissertation preset's own schedule (six epochs, 5.1), not quick's hundred.
    assert saved["noise_schedule"] == [0.25, 0.25, 0.01, 0.01, 0.05, 0.05]
    assert saved["loss"]["objective_clip"] is True


def test_the_mlp_vae_is_counted_by_its_dense_layers():
    config = configs.vae_mlp()
    pixels = 128 * 128 * 3
    expected = pixels * 256 + 256 * 256 + 256 * 128 + 64 * 256 + 256 * 256 + 256 * pixels
    assert plan.forward_macs_per_frame(config.model) == expected
