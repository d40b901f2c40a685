"""The real training scripts as two workers on localhost (TF_CONFIG): both end with the same weights.

vaegan_train's pair runs in `make test`: it is the path users take when they outgrow one machine, and
it broke once unseen while its only test was slow (a convolution timed for the printed estimate ran
before the strategy existed). relive_train's and latent_dream_train's pairs are in the slow set.

Each worker is the unchanged script run through `runpy`, with one addition: every checkpoint a
non-chief worker writes (normally to a temporary folder it deletes at once) is also written to a
folder the test reads, so the two workers' final states can be compared variable by variable.
"""
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests import synthetic
from tests.videocore import workers

ROOT = pathlib.Path(__file__).resolve().parents[1]

WORKER = """
import os, runpy, sys
from videocore import checkpoint

original_save = checkpoint.Checkpointer.save

def save(self, number):
    path = original_save(self, number)
    if not self.is_chief:  # keep what this worker would have written, for the test to compare
        self.checkpoint.write(os.path.join(os.environ["KEEP_CHECKPOINTS"], f"ckpt-{number}"))
    return path

checkpoint.Checkpointer.save = save
sys.argv = [sys.argv[1], *sys.argv[2:]]
runpy.run_module(sys.argv[0], run_name="__main__")
"""


def _run_pair(tmp_path, script, *args):
    """Runs `script` as workers 0 (chief) and 1; returns (chief's final checkpoint, worker 1's same-numbered one)."""
    ports = workers.free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    keep = tmp_path / "worker1_checkpoints"
    keep.mkdir()
    processes = []
    for index in range(2):
        temp = tmp_path / f"tmp{index}"
        temp.mkdir()
        env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
               "TMPDIR": str(temp), "KEEP_CHECKPOINTS": str(keep)}
        log = open(tmp_path / f"worker{index}.log", "w")
        processes.append((subprocess.Popen(
            [sys.executable, "-c", WORKER, f"run_scripts.{script}", *args, f"--workdir={tmp_path / 'work'}",
             "--config.loop.distribute=multi_worker"],  # --config first: its overrides follow it
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT), log))
    for process, log in processes:
        try:
            code = process.wait(timeout=600)
        except subprocess.TimeoutExpired:
            for other, _ in processes:
                other.kill()
            code = "timeout"
        log.close()
        assert code == 0, pathlib.Path(log.name).read_text()[-3000:]
    chief = tf.train.latest_checkpoint(str(tmp_path / "work" / "checkpoints"))
    number = chief.rsplit("-", 1)[1]
    assert (keep / f"ckpt-{number}.index").exists(), sorted(p.name for p in keep.iterdir())
    assert "2 replica(s)" in (tmp_path / "worker0.log").read_text()
    return chief, str(keep / f"ckpt-{number}")


# Not state: the graph's description, and the counter only the chief's CheckpointManager keeps.
BOOKKEEPING = ("_CHECKPOINTABLE_OBJECT_GRAPH", "save_counter/.ATTRIBUTES/VARIABLE_VALUE")


def _assert_same_variables(chief, other, must_have):
    chief_reader, other_reader = tf.train.load_checkpoint(chief), tf.train.load_checkpoint(other)
    names = sorted(n for n in chief_reader.get_variable_to_shape_map() if n not in BOOKKEEPING)
    assert names == sorted(n for n in other_reader.get_variable_to_shape_map() if n not in BOOKKEEPING)
    for fragment in must_have:
        assert any(fragment in name for name in names), fragment
    for name in names:
        np.testing.assert_array_equal(other_reader.get_tensor(name), chief_reader.get_tensor(name), err_msg=name)
    steps = [n for n in names if n.endswith("step/.ATTRIBUTES/VARIABLE_VALUE") and n.startswith("counters")]
    assert steps and all(chief_reader.get_tensor(n) > 0 for n in steps)


def test_vaegan_train_on_two_workers_ends_with_identical_weights(tmp_path):
    film = synthetic.write_video(tmp_path / "film.mp4", num_frames=16, width=64, height=36, fps=25)
    chief, other = _run_pair(tmp_path, "vaegan_train", "--config=vaegan_video/configs.py:tiny", f"--video={film}",
                             f"--config.data.cache_dir={tmp_path / 'cache'}", "--config.loop.precision=float32",
                             "--config.loop.num_epochs=0", "--config.loop.num_steps=2",
                             "--config.loop.sample_every_steps=0")
    _assert_same_variables(chief, other, ["encoder", "decoder", "discriminator"])
    log = (tmp_path / "worker0.log").read_text()
    # The plan is still printed; with several workers the step time is not timed before the run (nothing is
    # cached for two replicas here), so the loop's own line gives it.
    assert "VAE-GAN 32x32" in log and "no time estimate yet" in log


@pytest.mark.slow  # a VAE-GAN trained first, then two workers that encode its latents: ~1.5 min here
def test_latent_dream_train_on_two_workers_ends_with_identical_weights(tmp_path):
    film = synthetic.write_video(tmp_path / "film.mp4", num_frames=40, width=64, height=36, fps=25)
    vaegan = subprocess.run([sys.executable, "-m", "run_scripts.vaegan_train", "--config=vaegan_video/configs.py:tiny",
                             f"--video={film}", f"--workdir={tmp_path / 'vaegan'}",
                             f"--config.data.cache_dir={tmp_path / 'cache'}", "--config.loop.precision=float32",
                             "--config.loop.num_epochs=0", "--config.loop.num_steps=2",
                             "--config.loop.sample_every_steps=0"], cwd=ROOT, capture_output=True, text=True,
                            timeout=600)
    assert vaegan.returncode == 0, vaegan.stderr[-3000:]
    # The workers encode the film with the VAE-GAN (TensorFlow ops) before training: after the strategy.
    chief, other = _run_pair(tmp_path, "latent_dream_train", "--config=vaegan_video/latent_dream/configs.py:tiny",
                             f"--vaegan_workdir={tmp_path / 'vaegan'}", f"--video={film}",
                             f"--config.data.cache_dir={tmp_path / 'cache'}", "--config.loop.precision=float32",
                             "--config.loop.batch_size=4")
    _assert_same_variables(chief, other, ["sequence"])


@pytest.mark.slow  # two relive_train processes: about a minute
def test_relive_train_on_two_workers_ends_with_identical_weights(tmp_path):
    chief, other = _run_pair(tmp_path, "relive_train", "--config=relive/configs.py:quick",
                             "--config.data.source=bundled:carphone", f"--config.data.cache_dir={tmp_path / 'cache'}",
                             "--config.critic.penalty=gradient", "--config.loop.precision=float32",
                             "--config.loop.num_steps=2", "--config.loop.checkpoint_every_steps=2",
                             "--config.loop.sample_every_steps=0", "--config.loop.histogram_every_steps=0")
    _assert_same_variables(chief, other, ["generator", "critic"])
