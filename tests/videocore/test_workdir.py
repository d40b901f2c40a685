"""The workdir API: config and kind saved together, one-line refusals of what is not a run, counters read back."""
import json

import keras
import ml_collections
import numpy as np
import pytest

from tests.videocore import tiny_task
from videocore import checkpoint
from videocore import errors
from videocore import loop
from videocore import workdir as workdirs


def _config():
    config = ml_collections.ConfigDict()
    config.model = ml_collections.ConfigDict({"width": 32, "filters": (8, 16)})
    return config


def test_save_config_round_trips_and_marks_the_kind(tmp_path):
    run = tmp_path / "run"
    workdirs.save_config(_config(), run, "vaegan")
    assert workdirs.load_config(run, "vaegan")["model"] == {"width": 32, "filters": [8, 16]}
    assert workdirs.kind_of(run) == "vaegan"
    assert sorted(p.name for p in run.iterdir()) == ["config.json", "workdir.json"]  # no temp files left


@pytest.mark.parametrize("case", ["missing", "file", "empty", "other", "stray"])
def test_check_names_what_it_found_in_one_line(tmp_path, case):
    path = tmp_path / "x"
    expected = {
        "missing": f"{path}: no such folder (give the workdir of a VAE-GAN run)",
        "file": f"{path}: a file, not the workdir of a VAE-GAN run",
        "empty": f"{path}: an empty folder, not a VAE-GAN run",
        "other": f"{path}: a relive run, not a VAE-GAN run",
        "stray": f"{path}: no config.json or checkpoints/, not a VAE-GAN run",
    }[case]
    if case == "file":
        path.write_text("not a folder")
    elif case == "empty":
        path.mkdir()
    elif case == "other":
        workdirs.save_config(_config(), path, "relive")
    elif case == "stray":
        path.mkdir()
        (path / "notes.txt").write_text("hello")
    with pytest.raises(workdirs.WorkdirError) as caught:
        workdirs.check(path, "vaegan")
    assert str(caught.value) == expected
    assert isinstance(caught.value, errors.UserInputError)


def test_runs_older_than_the_marker_are_recognised_from_their_config(tmp_path):
    relive = tmp_path / "relive"
    relive.mkdir()
    (relive / "config.json").write_text(json.dumps({"clip": {}, "generator": {}, "model": "wgan"}))
    vaegan = tmp_path / "vaegan"
    vaegan.mkdir()
    (vaegan / "config.json").write_text(json.dumps({"noise_schedule": [0.1], "model": {"width": 8}}))
    assert workdirs.kind_of(relive) == "relive"
    assert workdirs.kind_of(vaegan) == "vaegan"
    with pytest.raises(workdirs.WorkdirError, match="a VAE-GAN run, not a relive run"):
        workdirs.check(vaegan, "relive")
    # Training refuses another method's run but takes a new or empty folder.
    with pytest.raises(workdirs.WorkdirError, match="a relive run, not a VAE-GAN run"):
        workdirs.prepare(relive, "vaegan")
    assert workdirs.prepare(tmp_path / "new", "vaegan") == tmp_path / "new"


def test_restore_and_counters_of_a_loop_run(tmp_path):
    config = tiny_task.tiny_config(num_steps=12, checkpoint_every_steps=5)
    result = loop.train(lambda setup: tiny_task.TinyTask(config, setup), config, tmp_path)
    workdirs.save_config(config, tmp_path, "tiny")
    keras.utils.set_random_seed(1)
    fresh = tiny_task.TinyTask(config, result.task.setup).networks
    path = workdirs.restore(tmp_path, fresh, "tiny")
    assert path == str(tmp_path / "checkpoints" / "ckpt-12")
    for trained, restored in zip(result.task.networks["net"].weights, fresh["net"].weights):
        np.testing.assert_array_equal(trained.numpy(), restored.numpy())
    # 12 steps of 7 batches per epoch: the next batch is epoch 1, index 5.
    assert (workdirs.counter(path, "step"), workdirs.counter(path, "epoch"), workdirs.counter(path, "index")) == \
        (12, 1, 5)
    assert workdirs.schedule(path, "noise") == pytest.approx(list(config.noise_schedule))
    assert workdirs.trained_steps(tmp_path) == 12 and workdirs.trained_steps(tmp_path / "absent") == 0
    assert workdirs.schedule(path, "absent") is None
    # A checkpoint of other networks is a mismatch, not damage.
    other = tiny_task.tiny_config()
    other.filters = 4
    with pytest.raises(errors.CheckpointError, match="ckpt-12: does not fit this model"):
        workdirs.restore(tmp_path, tiny_task.TinyTask(other, result.task.setup).networks, "tiny")
    assert checkpoint.damage(path) is None
