"""Fixtures for the security tests: the real API on a fresh database (like tests/integration),
with a read and an admin token."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.tokens import create_token
from db.session import transaction


class Client:
    """The API with a read and an admin token; `settings` may be changed before `app` is built."""

    def __init__(self, pipeline, **security) -> None:
        self.pipeline = pipeline
        self.settings = pipeline.settings.model_copy(
            update={"security": pipeline.settings.security.model_copy(update=security)}
        )
        tag = uuid.uuid4().hex[:6]
        with transaction(pipeline.sessions) as session:
            self.admin = create_token(session, f"admin-{tag}", "admin")
            self.read = create_token(session, f"viewer-{tag}", "read")
        self.app = create_app(self.settings, pipeline.sessions)
        self.http = TestClient(self.app, raise_server_exceptions=False)

    def auth(self, token: str | None) -> dict:
        if token is None:
            return {}
        secret = {"read": self.read, "admin": self.admin}.get(token, token)
        return {"Authorization": f"Bearer {secret}"}

    def get(self, path: str, token: str | None = "read", **kw):
        return self.http.get(path, headers=self.auth(token), **kw)

    def send(self, method: str, path: str, token: str | None = "admin", **kw):
        headers = {**self.auth(token), **kw.pop("headers", {})}
        return self.http.request(method, path, headers=headers, **kw)


@pytest.fixture
def api(pipeline) -> Client:
    return Client(pipeline)


@pytest.fixture
def make_api(pipeline):
    return lambda **security: Client(pipeline, **security)
