"""Secrets at rest: camera credentials and webhook secrets are Fernet-encrypted in PostgreSQL.

A database dump, backup or read-only SQL user (Grafana) then shows no camera password or webhook
key: only the process holding the key file can open them, and only the processes that connect
(ingest, `vad camera learn`, the webhook worker) do. The key file is created on first use with
mode 0600, written to a temporary file and linked into place, so processes starting together agree
on one key.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from vad.urls import holds_secret, redact_url

SEALED_PREFIX = "fernet:"


class SecretUnavailable(Exception):
    """A sealed value cannot be opened: wrong or missing key file."""


def load_or_create_key(path: Path) -> bytes:
    """The Fernet key in `path`; a new one (0600) when the file does not exist yet."""
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(descriptor, Fernet.generate_key() + b"\n")
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    try:
        os.link(temporary, path)  # atomic, and fails if another process won the race
    except FileExistsError:
        pass
    finally:
        temporary.unlink(missing_ok=True)
    return path.read_bytes().strip()


class SecretBox:
    """Seals and opens short secrets with one Fernet key."""

    def __init__(self, key: bytes, source: str = "key") -> None:
        self._fernet = Fernet(key)
        self.source = source

    @classmethod
    def from_file(cls, path: Path) -> SecretBox:
        return cls(load_or_create_key(path), str(path))

    def seal(self, secret: str) -> str:
        return SEALED_PREFIX + self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        """The clear text of `sealed`; a value that was never sealed is returned as it is (rows
        written before migration 0009 ran, which encrypts them)."""
        if not sealed.startswith(SEALED_PREFIX):
            return sealed
        try:
            return self._fernet.decrypt(sealed[len(SEALED_PREFIX) :].encode()).decode()
        except InvalidToken:
            raise SecretUnavailable(
                f"a stored secret does not open with the key in {self.source} (was the key "
                "file replaced? restore it from the backup)"
            ) from None


def seal_url(box: SecretBox | None, url: str, *, query: bool = False) -> tuple[str, str | None]:
    """(url to store in clear, sealed full url or None): the clear one hides every secret."""
    if not holds_secret(url, query=query):
        return url, None
    if box is None:
        raise SecretUnavailable("this URL holds credentials and no key is configured to seal them")
    return redact_url(url, query=query), box.seal(url)


def open_url(box: SecretBox | None, url: str, sealed: str | None) -> str:
    """The URL to connect to: the sealed full one when there is one."""
    if sealed is None:
        return url
    if box is None:
        raise SecretUnavailable("this URL's credentials are sealed and no key is configured")
    return box.open(sealed)
