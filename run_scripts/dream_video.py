"""Deprecated name of `run_scripts.deepdream_video` (kept for one release)."""

from run_scripts import _deprecated
from run_scripts import deepdream_video

if __name__ == "__main__":
    _deprecated.run("run_scripts.dream_video", deepdream_video)
