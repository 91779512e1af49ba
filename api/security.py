"""Token hashing and webhook signatures: the two places where a constant-time compare matters.

Tokens are random (256 bits), so a plain SHA-256 is enough to store them: there is nothing to
brute-force, unlike passwords. Webhook signatures follow the Stripe scheme, HMAC-SHA256 over
f"{timestamp}.{body}", so a receiver can reject both forged and replayed (old timestamp) bodies.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_PREFIX = "vad_"
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
