"""Tests for videocore."""
