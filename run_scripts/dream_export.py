"""Deprecated name of `run_scripts.latent_dream_export` (kept for one release)."""

from run_scripts import _deprecated
from run_scripts import latent_dream_export

if __name__ == "__main__":
    _deprecated.run("run_scripts.dream_export", latent_dream_export)
