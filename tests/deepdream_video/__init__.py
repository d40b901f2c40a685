"""Tests for deepdream_video."""
