"""`vad token create` prints a secret once, stores only its hash, and the secret works."""

from __future__ import annotations

import pytest
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from service.commands import token
from service.context import AppContext

pytestmark = [
    pytest.mark.integration,
    pytest.mark.embedded_broker_only("database-only: tokens live in PostgreSQL"),
]


def test_token_create_list_revoke(pipeline):
    root = typer.Typer()
    root.add_typer(token.app, name="token")

    @root.callback()
    def main(ctx: typer.Context) -> None:
        ctx.obj = AppContext(pipeline.settings)

    runner = CliRunner()
    created = runner.invoke(root, ["token", "create", "ops", "--scope", "admin"])
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[0]
    assert secret.startswith("vad_")
    assert pipeline.scalar("SELECT scopes::text FROM api_tokens") == '["read", "admin"]'
    assert secret not in pipeline.scalar("SELECT token_hash FROM api_tokens")

    client = TestClient(create_app(pipeline.settings, pipeline.sessions))
    auth = {"Authorization": f"Bearer {secret}"}
    assert client.get("/cameras", headers=auth).status_code == 200
    assert "ops" in runner.invoke(root, ["token", "list"]).stdout
    duplicate = runner.invoke(root, ["token", "create", "ops"])
    assert duplicate.exit_code == 2 and "already exists" in duplicate.output
    bad_scope = runner.invoke(root, ["token", "create", "x", "--scope", "root"])
    assert bad_scope.exit_code == 2 and "scope" in bad_scope.output
    assert runner.invoke(root, ["token", "revoke", "ops"]).exit_code == 0
    assert client.get("/cameras", headers=auth).status_code == 401
