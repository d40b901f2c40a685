"""Tests of the benchmark and reproduction scripts in bench/."""
