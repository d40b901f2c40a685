"""The atomic-write helper: complete files with ordinary permissions, nothing left behind on failure."""
import os
import stat

import numpy as np
import pytest

from videocore import files


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_written_file_appears_whole_with_the_permissions_of_a_plain_open(tmp_path):
    target = tmp_path / "out" / "arrays.npz"
    with files.atomic_path(target) as temp:
        assert temp.parent == target.parent and temp.suffix == ".npz" and temp != target
        assert not target.exists()  # nothing at the target while it is being written
        with open(temp, "wb") as file:
            np.savez(file, a=np.arange(3))
    assert np.load(target)["a"].tolist() == [0, 1, 2]
    plain = tmp_path / "plain"
    plain.write_bytes(b"")
    assert _mode(target) == _mode(plain)  # not mkstemp's 0600
    assert sorted(p.name for p in target.parent.iterdir()) == ["arrays.npz"]


def test_a_failure_removes_the_temp_file_and_keeps_the_previous_output(tmp_path):
    target = tmp_path / "state.json"
    target.write_text("old")
    with pytest.raises(OSError, match="disk full"):
        with files.atomic_path(target) as temp:
            temp.write_text("half of the new")
            raise OSError("disk full")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_a_folder_is_published_whole_or_removed(tmp_path):
    target = tmp_path / "export"
    with files.atomic_path(target, directory=True) as temp:
        (temp / "saved_model.pb").write_bytes(b"x")
    assert (target / "saved_model.pb").read_bytes() == b"x"
    plain = tmp_path / "plain"
    plain.mkdir()
    assert _mode(target) == _mode(plain)
    with pytest.raises(KeyboardInterrupt):
        with files.atomic_path(tmp_path / "other", directory=True) as temp:
            (temp / "part").write_bytes(b"y")
            raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export", "plain"]
