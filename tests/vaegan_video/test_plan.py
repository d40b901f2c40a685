"""Honest defaults: the training script's preset and the size / steps / time it prints before training."""

import json
import subprocess
import sys

import pytest

from tests import synthetic
from videocore import framestore
from vaegan_video import configs
from vaegan_video import plan


def test_the_estimate_divides_the_step_flops_by_the_rate_measured_here():
    published = configs.dissertation()
    # 12 frames x (Enc + 2 Dec + 3 Dis) forward MACs, x2 FLOP per MAC, x3 forward + backward.
    assert plan.step_flops(published) == 2 * 3 * 12 * plan.forward_macs_per_frame(published.model)
    assert 950e9 < plan.step_flops(published) < 1000e9
    rate = 400e9
    seconds = plan.estimate_step_seconds(published, "float32", flops_per_second=rate)
    assert seconds == plan.OVERHEAD_SECONDS + plan.step_flops(published) / rate
    doubled = configs.dissertation()
    doubled.loop.batch_size = 24  # double the batch, double the FLOPs above the fixed overhead
    extra = plan.estimate_step_seconds(doubled, "float32", flops_per_second=rate) - plan.OVERHEAD_SECONDS
    assert abs(extra - 2 * (seconds - plan.OVERHEAD_SECONDS)) < 1e-9
    quick = plan.estimate_step_seconds(configs.quick(), "float32", flops_per_second=rate)
    assert plan.OVERHEAD_SECONDS < quick < 0.2 * seconds


def test_the_convolution_rate_is_measured_in_the_runs_precision():
    rate = plan.measure_conv_flops_per_second("float32", repeats=2)
    assert 1e9 < rate < 1e14  # a real timing: between a slow CPU and a large GPU


def test_describe_names_size_steps_per_epoch_and_time(tmp_path):
    film = synthetic.write_video(tmp_path / "film.mp4", num_frames=30, width=64, height=36)
    config = configs.dissertation()
    config.loop.precision = "float32"
    stores = framestore.load_stores([str(film)], size=(256, 144), aspect="16:9", cache_dir=str(tmp_path / "cache"),
                                    progress=False)
    assert plan.describe(config, stores).splitlines()[1] == (
        "no time estimate: this machine's convolution rate was not measured")
    text = plan.describe(config, stores, plan.measure_conv_flops_per_second("float32", repeats=2))
    first, second = text.splitlines()
    assert "256x144" in first and "30 frames, 2 steps per epoch, 12 steps in all" in first
    assert "s per step" in second and "per epoch" in second and "GFLOP/s" in second
    seconds = float(second.split("~", 1)[1].split(" s per step")[0])
    assert 0.1 < seconds < 600
    config.data.steps_per_epoch = 5
    assert "5 steps per epoch, 30 steps in all" in plan.describe(config, stores)


STARTS_NO_TENSORFLOW = """
import sys
import tensorflow as tf
from tests import synthetic
from vaegan_video import configs, plan
from videocore import framestore

film = synthetic.write_video(sys.argv[1] + "/film.mp4", num_frames=12, width=64, height=36)
stores = framestore.load_stores([film], size=(256, 144), aspect="16:9", cache_dir=sys.argv[1], progress=False)
if sys.argv[2] == "measure":
    plan.measure_conv_flops_per_second("float32", repeats=1)
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
    after_an_op = run("measure")  # the check itself can fail: one convolution starts the runtime
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
