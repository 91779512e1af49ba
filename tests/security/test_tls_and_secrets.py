"""Issue 16, low/high: certificates are verified by default (per-camera opt-out), and the secret
box refuses values sealed with another key instead of handing out garbage."""

from __future__ import annotations

import pytest

from db.secrets import SecretBox, SecretUnavailable, load_or_create_key, seal_url
from ingest.sources import _ffmpeg_options
from vad.urls import redact_url


@pytest.mark.parametrize("url", ["rtsps://cam/live", "https://cam/video.mjpg"])
def test_tls_cameras_verify_certificates_unless_opted_out(url):
    assert "tls_verify;1" in _ffmpeg_options(url, 5.0)
    assert "tls_verify" not in _ffmpeg_options(url, 5.0, verify_tls=False)


def test_sealed_values_need_their_own_key(tmp_path):
    first = SecretBox.from_file(tmp_path / "a.key")
    other = SecretBox.from_file(tmp_path / "b.key")
    sealed = first.seal("hunter2")
    assert "hunter2" not in sealed and first.open(sealed) == "hunter2"
    with pytest.raises(SecretUnavailable, match="key"):
        other.open(sealed)


def test_key_file_is_created_once(tmp_path):
    path = tmp_path / "k" / "secret.key"
    assert load_or_create_key(path) == load_or_create_key(path)
    assert path.stat().st_mode & 0o077 == 0


def test_urls_without_secrets_are_stored_as_they_are():
    assert seal_url(None, "rtsp://10.0.0.1/live") == ("rtsp://10.0.0.1/live", None)
    with pytest.raises(SecretUnavailable):
        seal_url(None, "rtsp://u:p@10.0.0.1/live")
    assert redact_url("https://h/x?token=abc&a=1", query=True) == "https://h/x?token=***&a=***"
