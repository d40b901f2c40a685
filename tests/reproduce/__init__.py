"""Tests of the reproduction modules in reproduce/: each runs its module as `python -m reproduce.<name>`."""

import functools
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]


def _run(module, *args):
    return subprocess.run([sys.executable, "-m", f"reproduce.{module}", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=1200)


def runner(module):
    """run(*args) -> the finished `python -m reproduce.<module> ARGS` (from the repository root, output captured)."""
    return functools.partial(_run, module)
