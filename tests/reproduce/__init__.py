"""Tests of the reproduction modules in reproduce/ (each runs its module as `python -m reproduce.<name>`)."""
