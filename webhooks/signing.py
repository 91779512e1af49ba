"""Webhook signatures: HMAC-SHA256 over "{timestamp}.{body}", sent as `X-VAD-Signature: t=..,v1=..`.

Signing the timestamp with the body lets receivers reject replays of an old delivery.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

SIGNATURE_HEADER = "X-VAD-Signature"


def new_webhook_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    ts = int(time.time()) if timestamp is None else timestamp
    return f"t={ts},v1={signature(secret, ts, body)}"


def verify_signature(
    secret: str,
    body: bytes,
    header: str,
    tolerance_seconds: float = 300,
    now: float | None = None,
) -> bool:
    """What a receiver does: parse `t=..,v1=..`, check freshness, compare in constant time."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        ts = int(parts["t"])
    except (KeyError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance_seconds:
        return False
    return hmac.compare_digest(signature(secret, ts, body), parts.get("v1", ""))
