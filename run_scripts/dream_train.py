"""Deprecated name of `run_scripts.latent_dream_train` (kept for one release)."""

from run_scripts import _deprecated
from run_scripts import latent_dream_train

if __name__ == "__main__":
    _deprecated.run("run_scripts.dream_train", latent_dream_train)
