"""Faults a long run meets, with real files and processes: damaged checkpoints, kill -9 while saving, a
full disk, and a workdir that is not the run a command needs."""
import hashlib
import json
import logging
import os
import pathlib
import random
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from tests import synthetic
from tests.videocore import tiny_task
from tests.videocore import workers
from videocore import checkpoint
from videocore import errors
from videocore import loop
from videocore import video
from videocore import workdir as workdirs

REPO = workers.REPO


def _python(code, *args, timeout=300):
    """Runs `code` in a fresh interpreter from the repository; returns the CompletedProcess."""
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


def _damage(prefix, how):
    """Damages checkpoint `prefix` as a disk or a cut-short copy would."""
    prefix = pathlib.Path(prefix)
    data = next(prefix.parent.glob(prefix.name + ".data-*"))
    content = bytearray(data.read_bytes())
    if how == "flip":
        for offset in range(len(content) // 3, len(content) // 3 + 16):
            content[offset] ^= 0xFF
        data.write_bytes(bytes(content))
    elif how == "truncate":
        data.write_bytes(bytes(content[:len(content) // 2]))
    elif how == "missing_shard":
        data.unlink()
    elif how == "index":
        pathlib.Path(str(prefix) + ".index").write_bytes(b"\0" * 7)
    else:
        raise ValueError(how)


def _tiny_run(workdir, num_steps):
    config = tiny_task.tiny_config(num_steps=num_steps, checkpoint_every_steps=5)
    return loop.train(lambda setup: tiny_task.TinyTask(config, setup), config, workdir)


# ----------------------------------------------------------------------------- damaged checkpoints


@pytest.mark.parametrize("how", ["flip", "truncate", "missing_shard", "index"])
def test_resume_skips_a_damaged_newest_checkpoint_and_finishes(tmp_path, how, caplog):
    _tiny_run(tmp_path, 15)  # keeps ckpt-5, ckpt-10, ckpt-15
    _damage(tmp_path / "checkpoints" / "ckpt-15", how)
    with caplog.at_level(logging.WARNING):
        result = _tiny_run(tmp_path, 20)
    # It went on from step 10 (7 batches an epoch: epoch 1, batch 3) and finished.
    assert result.task.positions_started == [(1, 3)]
    assert result.step == 20 and np.isfinite(result.losses["mse"])
    warnings = [r.getMessage() for r in caplog.records if "damaged or unreadable" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].startswith(f"{tmp_path / 'checkpoints' / 'ckpt-15'}: damaged")
    assert "\n" not in warnings[0]
    assert checkpoint.damage(tmp_path / "checkpoints" / "ckpt-20") is None


def test_no_readable_checkpoint_left_is_one_line(tmp_path):
    _tiny_run(tmp_path, 10)  # ckpt-0, ckpt-5, ckpt-10
    for number in (0, 5, 10):
        _damage(tmp_path / "checkpoints" / f"ckpt-{number}", "truncate")
    with pytest.raises(errors.CheckpointError) as caught:
        _tiny_run(tmp_path, 15)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'checkpoints'}: no readable checkpoint left (ckpt-10: ")
    assert "\n" not in message and "does not fit" not in message


@pytest.fixture(scope="module")
def vaegan_run(tmp_path_factory):
    """A tiny VAE-GAN run (12 steps, checkpoints 4, 8 and 12 kept) and the film it learned."""
    from vaegan_video import configs
    from vaegan_video import train

    root = tmp_path_factory.mktemp("vaegan")
    film = synthetic.write_video(root / "film.mp4", num_frames=24, width=64, height=36, fps=25, audio_seconds=1.2)
    config = configs.tiny()
    config.data.videos = (str(film),)
    config.data.cache_dir = str(root / "cache")
    config.loop.precision = "float32"
    config.loop.sample_every_steps = 0
    train.train_and_evaluate(config, root / "work", progress=False)
    return root / "work", film


@pytest.mark.parametrize("how", ["flip", "truncate"])
def test_reconstruction_uses_the_older_checkpoint_when_the_newest_is_damaged(vaegan_run, tmp_path, how):
    source, film = vaegan_run
    workdir = tmp_path / "work"
    shutil.copytree(source, workdir)
    _damage(workdir / "checkpoints" / "ckpt-12", how)
    output = tmp_path / "out.mp4"
    result = subprocess.run([sys.executable, "-m", "run_scripts.vaegan_reconstruct", f"--workdir={workdir}",
                             f"--video={film}", f"--output={output}"], cwd=REPO, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    damaged = [line for line in result.stderr.splitlines() if "damaged or unreadable" in line]
    assert len(damaged) == 1 and f"{workdir / 'checkpoints' / 'ckpt-12'}: damaged or unreadable" in damaged[0]
    assert "Traceback" not in result.stderr
    assert video.probe(output).frame_count == 24


# ----------------------------------------------------------------------------- saving


SAVER = """
import sys
import tensorflow as tf
from videocore import checkpoint
value = tf.Variable(tf.zeros([1_000_000]))
saver = checkpoint.Checkpointer(sys.argv[1], {"value": value}, max_to_keep=3)
number = int(sys.argv[2])
while True:
    value.assign(tf.fill([1_000_000], float(number)))
    saver.save(number)
    print("saved", number, flush=True)
    number += 1
"""


@pytest.mark.slow  # three saver processes: ~35 s here
def test_kill_9_while_saving_leaves_a_restorable_checkpoint(tmp_path):
    rng = random.Random(0)
    directory = tmp_path / "checkpoints"
    value = tf.Variable(tf.zeros([1_000_000]))
    for _ in range(3):
        start = max([checkpoint.checkpoint_step(p) for p in checkpoint.candidates(directory)] or [0]) + 1
        process = subprocess.Popen([sys.executable, "-c", SAVER, str(directory), str(start)], cwd=REPO,
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            assert process.stdout.readline().startswith("saved"), "the saver never saved"
            time.sleep(rng.uniform(0.0, 0.4))  # back-to-back saves: most moments are inside one
            os.kill(process.pid, signal.SIGKILL)
            assert process.wait(60) == -signal.SIGKILL
        finally:
            process.kill()
            process.stdout.close()
        path = checkpoint.Checkpointer(directory, {"value": value}, is_chief=False).restore()
        assert path is not None
        # The checkpoint restored holds the values saved under its number, whole.
        np.testing.assert_array_equal(value.numpy(), np.full(1_000_000, checkpoint.checkpoint_step(path), np.float32))


DISK_FULL = """
import hashlib, json, pathlib, resource, signal, sys
import tensorflow as tf
from videocore import checkpoint, errors
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # so an oversized write fails with EFBIG, as on a full disk
directory = pathlib.Path(sys.argv[1])
value = tf.Variable(tf.zeros([250_000]))  # 1 MB per checkpoint
saver = checkpoint.Checkpointer(directory, {"value": value}, max_to_keep=5)

def save(number, limit):
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
    value.assign(tf.fill([250_000], float(number)))
    try:
        return saver.save(number)
    except errors.CheckpointError as error:
        return "CheckpointError: " + str(error)

full, room = 200_000, resource.RLIM_INFINITY
results = {n: save(n, room) for n in (1, 2)}
hashes = {p.name: hashlib.sha1(p.read_bytes()).hexdigest() for p in directory.glob("ckpt-*")}
results.update({n: save(n, limit) for n, limit in ((3, full), (4, room), (5, full), (6, full))})
print("RESULT " + json.dumps({"results": results, "hashes": hashes}), flush=True)
"""


def test_a_full_disk_while_saving_warns_keeps_earlier_checkpoints_and_stops_at_the_second_failure(tmp_path):
    directory = tmp_path / "checkpoints"
    result = _python(DISK_FULL, directory)
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("RESULT "))
    outcome = json.loads(line[len("RESULT "):])
    results = outcome["results"]
    assert results["1"].endswith("ckpt-1") and results["2"].endswith("ckpt-2")
    assert results["3"] is None  # one failure: a warning, the run would go on
    assert results["4"].endswith("ckpt-4")  # the next save worked: the count starts again
    assert results["5"] is None
    assert results["6"].startswith(f"CheckpointError: {directory}: saving checkpoint 6 failed twice in a row")
    assert "\n" not in results["6"]
    warnings = [line for line in result.stderr.splitlines() if "failed (" in line and "saving checkpoint" in line]
    assert len(warnings) == 2 and "saving checkpoint 3 failed" in warnings[0]
    # Earlier checkpoints byte for byte as they were; no partial files; `checkpoint` names ckpt-4.
    names = sorted(p.name for p in directory.iterdir())
    assert names == ["checkpoint", "ckpt-1.data-00000-of-00001", "ckpt-1.index", "ckpt-2.data-00000-of-00001",
                     "ckpt-2.index", "ckpt-4.data-00000-of-00001", "ckpt-4.index"]
    for name, digest in outcome["hashes"].items():
        assert hashlib.sha1((directory / name).read_bytes()).hexdigest() == digest, name
    assert tf.train.latest_checkpoint(str(directory)) == str(directory / "ckpt-4")


LOOP_DISK_FULL = """
import resource, signal, sys
from tests.videocore import tiny_task
from videocore import errors, loop
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
config = tiny_task.tiny_config(num_steps=12, checkpoint_every_steps=5)
config.filters = 512  # a ~170 KB checkpoint; the event file stays far smaller
resource.setrlimit(resource.RLIMIT_FSIZE, (60_000, resource.RLIM_INFINITY))
try:
    loop.train(lambda setup: tiny_task.TinyTask(config, setup), config, sys.argv[1])
except errors.CheckpointError as error:
    print("STOPPED " + str(error), flush=True)
"""


@pytest.mark.slow  # a training process: ~20 s on a loaded machine
def test_the_loop_stops_in_one_line_when_saving_fails_twice(tmp_path):
    result = _python(LOOP_DISK_FULL, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    stopped = [line for line in result.stdout.splitlines() if line.startswith("STOPPED ")]
    assert len(stopped) == 1 and "failed twice in a row" in stopped[0]
    assert len([line for line in result.stderr.splitlines() if "saving checkpoint 0 failed" in line]) == 1
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == []  # nothing partial left


# ----------------------------------------------------------------------------- wrong workdirs


def _other_run(path, kind):
    """A folder holding only what `kind`'s training writes first: its config.json and marker."""
    import ml_collections

    workdirs.save_config(ml_collections.ConfigDict({"model": "wgan" if kind == "relive" else {}}), path, kind)
    return path


# command -> (method it needs, the other method's run it is given, extra flags)
COMMANDS = {
    "vaegan_reconstruct": ("vaegan", "relive", ["--video=film.mp4", "--output=out.mp4"]),
    "vaegan_figures": ("vaegan", "relive", ["--video=film.mp4", "--output=out.png"]),
    "vaegan_export": ("vaegan", "latent_dream", ["--export_dir=export"]),
    "latent_dream": ("latent_dream", "vaegan", ["--output=dream.mp4"]),
    "latent_dream_export": ("latent_dream", "relive", ["--export_dir=export"]),
    "relive_sample": ("relive", "vaegan", ["--output=grid"]),
    "relive_export": ("relive", "vaegan", ["--export_dir=export"]),
    "relive_photo": ("relive", "latent_dream", ["--photo=me.jpg", "--output_dir=out"]),
}
CASES = ("empty", "other", "file")
# One command of each method in the quick suite, one case each (a subprocess costs 5-20 s on a
# loaded 2-core machine); all 24 pairs with `make test-all`.
QUICK = {("vaegan_reconstruct", "other")}  # one subprocess (~7 s) in make test; make test-all runs every pair
PAIRS = [pytest.param(command, case, marks=() if (command, case) in QUICK else pytest.mark.slow)
         for command in COMMANDS for case in CASES]


@pytest.mark.parametrize("command,case", PAIRS)
def test_a_command_given_what_is_not_its_run_says_what_it_found_in_one_line(tmp_path, command, case):
    needed, other, flags = COMMANDS[command]
    path = tmp_path / "given"
    if case == "empty":
        path.mkdir()
    elif case == "file":
        path.write_text("a file")
    else:
        _other_run(path, other)
    workdir_flag = "--conditional_workdir" if command == "relive_photo" else "--workdir"
    result = subprocess.run([sys.executable, "-m", f"run_scripts.{command}", f"{workdir_flag}={path}",
                             *[flag.replace("=", f"={tmp_path}/", 1) for flag in flags]],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    wanted = workdirs.describe(needed)
    found = {"empty": f"an empty folder, not {wanted}", "file": f"a file, not the workdir of {wanted}",
             "other": f"{workdirs.describe(other)}, not {wanted}"}[case]
    assert result.returncode == 1, result.stderr[-3000:]
    assert result.stderr.strip().splitlines()[-1] == f"error: {path}: {found}"
    assert "Traceback" not in result.stderr


def test_a_config_json_of_something_else_is_one_line(tmp_path):
    workdir = tmp_path / "given"
    workdir.mkdir()
    (workdir / "config.json").write_text('{"model": "x"}')  # JSON, but no VAE-GAN run wrote it
    synthetic.write_video(tmp_path / "film.mp4", num_frames=4, width=32, height=32)
    result = subprocess.run([sys.executable, "-m", "run_scripts.vaegan_reconstruct", f"--workdir={workdir}",
                             f"--video={tmp_path}/film.mp4", f"--output={tmp_path}/out.mp4"],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {workdir / 'config.json'}: not a VAE-GAN run's config (no model block with width, height and "
        "latent_dim)")
    assert not (tmp_path / "out.mp4").exists()


# ----------------------------------------------------------------------------- outputs cut short


def _fill_disk_at(limit_bytes):
    """preexec_fn: a file-size limit stands in for a full disk (writes past it fail with EFBIG)."""
    import resource

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel kills the process outright
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))
    return limit


def test_a_full_disk_while_writing_a_video_is_one_line_and_leaves_nothing(tmp_path):
    output = tmp_path / "out.mp4"
    result = subprocess.run([sys.executable, "-m", "run_scripts.transcode", f"--input={video.sample_clip('bikes')}",
                             f"--output={output}", "--size=320x136", "--end=4"], cwd=REPO, capture_output=True,
                            text=True, timeout=300, preexec_fn=_fill_disk_at(60_000))
    assert result.returncode == 1, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "File too large while writing" in last
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # neither the output nor its temporary file


def _terminate_when(process, ready, timeout=240):
    """Sends SIGTERM to `process` once `ready()` is true; False if it ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if ready():
            process.send_signal(signal.SIGTERM)
            return True
        time.sleep(0.02)
    return False


def test_sigterm_during_reconstruction_is_one_line_and_leaves_nothing(vaegan_run, tmp_path):
    workdir, _ = vaegan_run
    film = synthetic.write_video(tmp_path / "long.mp4", num_frames=1500, width=64, height=36, fps=25,
                                 audio_seconds=60)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    process = subprocess.Popen([sys.executable, "-m", "run_scripts.vaegan_reconstruct", f"--workdir={workdir}",
                                f"--video={film}", f"--output={out_dir / 'film.mp4'}"], cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    partial = lambda: any(p.stat().st_size > 0 for p in out_dir.glob(".film.*partial*"))  # noqa: E731
    assert _terminate_when(process, partial), "reconstruction ended before its output was being written"
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, stderr[-2000:]
    assert stderr.strip().splitlines()[-1] == "stopped by SIGTERM; no partial output was left"
    assert "Traceback" not in stderr
    assert list(out_dir.iterdir()) == []


@pytest.mark.slow  # real InceptionV3 weights and a few dreamed frames: ~40 s here
def test_sigterm_during_deepdream_is_one_line_and_leaves_no_output(tmp_path):
    output = tmp_path / "dream.mp4"
    process = subprocess.Popen([sys.executable, "-m", "run_scripts.deepdream_video", f"--video={video.sample_clip('carphone')}",
                                f"--output={output}", "--size=176x144", "--num_iterations=2", "--end=2"],
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    dreamed = lambda: any(path.is_file() and path.suffix in (".png", ".npy", ".npz", ".jpg")  # noqa: E731
                          for path in tmp_path.rglob("*") if path.parent != tmp_path)
    assert _terminate_when(process, dreamed), "the dream ended before its first frame was kept"
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, stderr[-2000:]
    assert stderr.strip().splitlines()[-1].startswith("stopped by SIGTERM; the frames dreamed so far are kept")
    assert "Traceback" not in stderr
    assert not output.exists() and not list(tmp_path.glob(".dream*partial*"))
