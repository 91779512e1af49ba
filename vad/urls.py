"""Secrets inside URLs: what a URL may show to people, and whether it holds anything secret.

Camera URLs carry passwords (`rtsp://user:pass@cam/...`) and webhook URLs may carry them in the
userinfo or the query string (`?token=...`). The service stores the full URL encrypted
(`db.secrets`) and shows everyone, everywhere (API, logs, CLI, model origins), only the form
made here.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "***"


def has_userinfo(url: str) -> bool:
    return "@" in urlsplit(url).netloc


def redact_url(url: str, *, query: bool = False) -> str:
    """`url` with its userinfo replaced by `***` (and, with `query`, every query value): safe
    to show, log and store in clear. A URL without secrets comes back unchanged."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rsplit('@', 1)[1]}"
    text_query = parts.query
    if query and text_query:
        pairs = parse_qsl(text_query, keep_blank_values=True)
        text_query = urlencode([(key, REDACTED) for key, _ in pairs], safe="*")
    return urlunsplit(parts._replace(netloc=netloc, query=text_query))


def holds_secret(url: str, *, query: bool = False) -> bool:
    """True when `redact_url` would hide something."""
    return redact_url(url, query=query) != url
