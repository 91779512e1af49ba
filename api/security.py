"""Token hashing and webhook signatures: the two places where a constant-time compare matters.

Tokens are random (256 bits), so a plain SHA-256 is enough to store them: there is nothing to
brute-force, unlike passwords. Webhook signatures follow the Stripe scheme, HMAC-SHA256 over
f"{timestamp}.{body}", so a receiver can reject both forged and replayed (old timestamp) bodies.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

TOKEN_PREFIX = "vad_"
SIGNATURE_HEADER = "X-VAD-Signature"
SCOPES = ("read", "admin")


def new_token_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def token_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_token(secret), stored_hash)


def scopes_allow(granted: list[str] | tuple[str, ...], needed: str) -> bool:
    """`admin` implies `read`: an admin token must be usable for everything."""
    return needed in granted or "admin" in granted


def new_webhook_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    ts = int(time.time()) if timestamp is None else timestamp
    return f"t={ts},v1={signature(secret, ts, body)}"


def verify_signature(
    secret: str, body: bytes, header: str, tolerance_seconds: float = 300,
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
