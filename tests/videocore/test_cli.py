"""videocore.cli.check_flags: the checks the reproduction scripts share."""
from absl import flags
import pytest

from videocore import cli
from videocore import errors


def parsed(*argv):
    values = flags.FlagValues()
    flags.DEFINE_list("variants", ["a"], "", flag_values=values)
    flags.DEFINE_integer("steps", 5, "", flag_values=values)
    flags.DEFINE_float("holdout", 0.2, "", flag_values=values)
    values(["script", *argv])
    return values


def check(values):
    cli.check_flags(choices=[("variants", {"a": 1, "b": 2})], positive=["steps"], fractions=["holdout"],
                    flag_values=values)


def test_good_flags_pass_and_each_bad_one_is_named():
    check(parsed("--variants=a,b", "--steps=1", "--holdout=0.5"))
    with pytest.raises(errors.ConfigError, match=r"^--variants: unknown z, y; choose from a, b$"):
        check(parsed("--variants=a,z,y"))
    with pytest.raises(errors.ConfigError, match=r"^--steps=0: must be positive$"):
        check(parsed("--steps=0"))
    for holdout in ("0", "1", "-0.1"):
        with pytest.raises(errors.ConfigError, match=r"^--holdout=.*: must be in \(0, 1\)$"):
            check(parsed(f"--holdout={holdout}"))


def test_start_up_chatter_is_filtered_and_everything_else_kept(capfd):
    import os

    with cli._start_up_chatter_filtered():
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n")
        os.write(2, b"I0000 00:00:1.0 1 port.cc:153] oneDNN custom operations are on.\n")
        os.write(2, b"a real warning from an import\n")
    assert capfd.readouterr().err == "a real warning from an import\n"


def test_a_training_script_logs_our_lines_and_not_the_libraries_info_lines(tmp_path):
    """TensorFlow's "Sharding callback duration" INFO line came at every checkpoint; our step and checkpoint
    lines stay, and --verbosity brings the libraries' lines back."""
    import pathlib
    import subprocess
    import sys

    from tests import synthetic

    root = pathlib.Path(__file__).resolve().parents[2]
    film = synthetic.write_video(tmp_path / "film.mp4", num_frames=12, width=32, height=32, fps=12)

    def train(*extra):
        result = subprocess.run(
            [sys.executable, "-m", "run_scripts.vaegan_train", "--config=vaegan_video/configs.py:tiny",
             f"--workdir={tmp_path / 'work'}", f"--video={film}", f"--config.data.cache_dir={tmp_path / 'cache'}",
             "--config.loop.num_epochs=0", "--config.loop.num_steps=2", "--config.loop.checkpoint_every_steps=1",
             "--config.loop.restart=True", "--config.loop.precision=float32", *extra],
            cwd=root, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout + result.stderr

    quiet = train()
    assert "checkpoint" in quiet and "ckpt-2" in quiet  # our lines
    assert "Sharding callback" not in quiet and "functional_saver.py" not in quiet
    assert "Sharding callback" in train("--verbosity=0")
