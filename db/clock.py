"""Timestamps as the database stores them: timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def now_utc() -> datetime:
    return datetime.now(UTC)
