"""Every main is an installed console script (nv-...) with run(), and scripts keep TensorFlow's chatter off stderr."""
import ast
import os
import pathlib
import re
import subprocess
import sys

import pytest

from videocore import video

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent
# What TensorFlow prints on its own at start-up or while optimising graphs (C++ logging, absl).
CHATTER = ("absl::InitializeLog", "oneDNN", "cpu_feature_guard", "remapper", "LeakyReluGrad", "I0000 ", "E0000 ")


def _entry_points():
    """{console script name: module} from setup.py's console_scripts."""
    text = (ROOT / "setup.py").read_text()
    return dict(re.findall(r'"(nv-[a-z-]+)=run_scripts\.(\w+):run"', text))


def _mains():
    """run_scripts modules that are mains: not the package, not _deprecated, not the old-name shims."""
    mains = []
    for path in sorted((ROOT / "run_scripts").glob("*.py")):
        module = ast.parse(path.read_text())
        docstring = ast.get_docstring(module) or ""
        if path.stem.startswith("_") or docstring.startswith("Deprecated name"):
            continue
        mains.append(path.stem)
    return mains


def test_every_main_is_a_console_script_with_a_run_function():
    entry_points = _entry_points()
    mains = _mains()
    assert len(mains) >= 16
    assert sorted(set(entry_points.values())) == mains
    assert entry_points["nv-deepdream"] == "deepdream_video"  # the name issue 14 asks for
    for name in mains:
        functions = {node.name for node in ast.parse((ROOT / "run_scripts" / f"{name}.py").read_text()).body
                     if isinstance(node, ast.FunctionDef)}
        assert {"main", "run"} <= functions, name


def test_no_script_defines_its_config_flag_by_hand():
    for name in _mains():
        text = (ROOT / "run_scripts" / f"{name}.py").read_text()
        assert "DEFINE_config_file" not in text and "CONFIGS =" not in text, name


def test_console_scripts_are_installed():
    # `make setup` runs `pip install --no-deps --no-build-isolation -e .`; re-run it after adding one.
    missing = [name for name in _entry_points() if not (BIN / name).is_file()]
    assert not missing, f"not installed: {missing}; run pip install --no-deps --no-build-isolation -e ."


def _quiet_env():
    """This process's environment without a TF log level (importing videocore sets one, which children inherit)."""
    env = dict(os.environ)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return env


def test_a_console_script_prints_its_help_with_the_config_flag():
    run = subprocess.run([str(BIN / "nv-relive-train"), "--help"], capture_output=True, text=True, timeout=120,
                         env=_quiet_env())
    assert "Traceback" not in run.stderr, run.stderr[-2000:]
    assert "Trains a relive model" in run.stdout  # the script's docstring, not setuptools' stub's
    assert "--workdir" in run.stdout and "--config" in run.stdout
    assert "relive/configs.py:quick" in run.stdout


def _metrics_run(*extra):
    command = [str(BIN / "nv-metrics"), f"--a={video.sample_clip('carphone')}",
               f"--b={video.sample_clip('carphone').with_name('carphone_distorted.mp4')}",
               "--metrics=psnr", "--max_frames=3", *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=_quiet_env())


@pytest.mark.slow  # a subprocess: ~7 s
def test_a_script_keeps_tensorflow_start_up_chatter_off_stderr():
    run = _metrics_run()
    assert run.returncode == 0, run.stderr[-2000:]
    assert "psnr:" in run.stdout
    assert not [line for line in run.stderr.splitlines() if any(text in line for text in CHATTER)], run.stderr


@pytest.mark.slow  # a subprocess: ~7 s
def test_verbosity_zero_lets_tensorflow_speak():
    # The same run with --verbosity=0 shows TensorFlow's INFO lines: the quiet above is the flag's doing.
    run = _metrics_run("--verbosity=0")
    assert run.returncode == 0, run.stderr[-2000:]
    assert "cpu_feature_guard" in run.stderr


def test_verbosity_is_read_in_every_spelling_absl_accepts():
    from videocore import cli

    assert cli._requested_verbosity(["x", "--a=1"]) is None
    assert cli._requested_verbosity(["x", "--verbosity=0"]) == 0
    assert cli._requested_verbosity(["x", "-v", "1"]) == 1
    assert cli._requested_verbosity(["x", "-v=-2"]) == -2
    assert cli._requested_verbosity(["x", "--verbosity", "loud"]) is None
