"""Ingest's settings section owns the rate a camera is set to (its own fps, else the default)."""

from __future__ import annotations

from ingest.settings import IngestConfig


def test_a_camera_without_its_own_fps_is_set_to_the_default() -> None:
    config = IngestConfig(default_fps=12.5)
    assert config.camera_fps(None) == 12.5
    assert config.camera_fps(0.0) == 12.5  # an unset (0) rate is the default too, as before


def test_a_camera_with_its_own_fps_keeps_it() -> None:
    assert IngestConfig(default_fps=12.5).camera_fps(5.0) == 5.0
