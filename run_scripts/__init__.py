"""Thin absl mains: flags and a config file in, one call into a package, errors in one line."""
