"""Tests for vaegan_video."""
