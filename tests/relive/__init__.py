"""Tests for relive."""
