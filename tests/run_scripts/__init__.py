"""Tests of the run_scripts mains as a user starts them: console scripts, --help, what reaches stderr."""
