"""Token hashing, webhook signatures and retry backoff: the pure parts of the API."""

from __future__ import annotations

import hashlib
import hmac
import random

import pytest

from api.security import hash_token, new_token_secret, scopes_allow, token_matches
from webhooks.delivery import backoff_seconds
from webhooks.settings import WebhookConfig
from webhooks.signing import new_webhook_secret, signature_header, verify_signature


def test_token_secret_is_random_and_only_its_sha256_is_compared():
    first, second = new_token_secret(), new_token_secret()
    assert first != second and first.startswith("vad_") and len(first) > 40
    assert hash_token(first) == hashlib.sha256(first.encode()).hexdigest()
    assert token_matches(first, hash_token(first))
    assert not token_matches(second, hash_token(first))


def test_admin_implies_read_but_not_the_reverse():
    assert scopes_allow(["read"], "read")
    assert scopes_allow(["admin"], "read")
    assert not scopes_allow(["read"], "admin")
    assert not scopes_allow([], "read")


def _independent_sign(secret: str, ts: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()


def test_signature_header_is_hmac_sha256_over_timestamp_dot_body():
    secret, body = new_webhook_secret(), b'{"id":"1:incident.opened:3"}'
    header = signature_header(secret, body, timestamp=1_700_000_000)
    assert header == f"t=1700000000,v1={_independent_sign(secret, 1_700_000_000, body)}"
    assert verify_signature(secret, body, header, now=1_700_000_010)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda s, b, h: (s + "x", b, h),  # wrong secret
        lambda s, b, h: (s, b + b" ", h),  # body changed
        lambda s, b, h: (s, b, h.replace("t=1700000000", "t=1700000001")),  # timestamp changed
        lambda s, b, h: (s, b, "v1=" + h.split("v1=")[1]),  # no timestamp
        lambda s, b, h: (s, b, "garbage"),
    ],
)
def test_tampered_signatures_are_rejected(mutate):
    secret, body = "whsec_test_secret_123", b'{"a":1}'
    header = signature_header(secret, body, timestamp=1_700_000_000)
    assert not verify_signature(*mutate(secret, body, header), now=1_700_000_000)


def test_replayed_old_signature_is_rejected():
    secret, body = "whsec_test_secret_123", b"{}"
    header = signature_header(secret, body, timestamp=1_700_000_000)
    assert not verify_signature(secret, body, header, tolerance_seconds=300, now=1_700_000_301)


def test_backoff_doubles_and_is_capped():
    config = WebhookConfig(backoff_initial_seconds=2, backoff_max_seconds=10, backoff_jitter=0)
    assert [backoff_seconds(n, config) for n in range(1, 6)] == [2, 4, 8, 10, 10]


def test_backoff_jitter_stays_within_its_fraction():
    config = WebhookConfig(backoff_initial_seconds=10, backoff_jitter=0.2)
    rng = random.Random(1)
    delays = [backoff_seconds(1, config, rng) for _ in range(200)]
    assert all(8 <= d <= 12 for d in delays) and len(set(delays)) > 100
