"""Issue 16, high: camera passwords and webhook secrets never reach a read token, a log line, the
CLI or a stored model origin, and are encrypted at rest with a key file created 0600."""

from __future__ import annotations

import logging
import stat

import pytest
import typer
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from alembic import command
from db import camera_queries
from db.secrets import SecretBox
from db.session import ALEMBIC_DIR, normalize_url, transaction
from service.commands import camera as camera_cli
from service.context import AppContext
from tests.support.pipeline import _create_database

pytestmark = pytest.mark.integration

PASSWORD = "s3cr3t-Pa55"
CAMERA_URL = f"rtsp://admin:{PASSWORD}@10.0.0.5:554/live"


def test_camera_password_is_redacted_for_readers_and_encrypted_at_rest(api):
    created = api.send("POST", "/cameras", json={"name": "gate", "url": CAMERA_URL})
    assert created.status_code == 201, created.text
    assert PASSWORD not in created.text
    body = created.json()
    assert body["has_credentials"] is True and body["url"] == "rtsp://***@10.0.0.5:554/live"

    for path in ("/cameras", "/cameras/gate"):
        response = api.get(path)
        assert response.status_code == 200 and PASSWORD not in response.text
    row = api.pipeline.rows("SELECT url, url_sealed FROM cameras")[0]
    assert PASSWORD not in row.url and PASSWORD not in row.url_sealed
    box = SecretBox.from_file(api.settings.key_file())
    assert box.open(row.url_sealed) == CAMERA_URL


def test_key_file_is_created_owner_only(api):
    mode = stat.S_IMODE(api.settings.key_file().stat().st_mode)
    assert mode == 0o600


def test_webhook_secret_and_url_secrets_are_not_shown_and_encrypted(api):
    url = "https://hook-user:hook-pass@hooks.example.com/vad?token=qs-secret"
    created = api.send("POST", "/webhooks", json={"url": url, "secret": "x" * 32})
    assert created.status_code == 201, created.text
    shown = created.json()
    assert shown["secret"] == "x" * 32  # shown once, to the admin who created it
    assert "hook-pass" not in shown["url"] and "qs-secret" not in shown["url"]
    assert shown["has_credentials"] is True
    listed = api.get("/webhooks")
    assert "hook-pass" not in listed.text and "qs-secret" not in listed.text
    row = api.pipeline.rows("SELECT url, url_sealed, secret FROM webhook_subscriptions")[0]
    assert "x" * 32 not in row.secret and "hook-pass" not in row.url + row.url_sealed


def cli(pipeline):
    root = typer.Typer()
    root.add_typer(camera_cli.app, name="camera")

    @root.callback()
    def main(ctx: typer.Context) -> None:
        ctx.obj = AppContext(pipeline.settings)

    return lambda *args: CliRunner().invoke(root, ["camera", *args])


def test_cli_camera_add_and_list_do_not_print_the_password(pipeline):
    run = cli(pipeline)
    added = run("add", "gate", CAMERA_URL)
    assert added.exit_code == 0, added.output
    assert PASSWORD not in added.output and "***@10.0.0.5" in added.output
    for args in (("list",), ("list", "--json")):
        listed = run(*args)
        assert listed.exit_code == 0 and "gate" in listed.output
        assert PASSWORD not in listed.output


def test_ingest_logs_do_not_name_the_password(pipeline, caplog):
    from ingest.service import IngestService
    from service.ingest_db import enabled_cameras, status_sink

    with transaction(pipeline.sessions) as session:
        box = SecretBox.from_file(pipeline.settings.key_file())
        camera_queries.add_camera(
            session, "gate", "rtsp://u:" + PASSWORD + "@127.0.0.1:9/x", 5, False, box=box
        )

    class NoPublisher:  # stops the ingestor right after the log line under test
        def outbox(self, *args, **kwargs):
            raise RuntimeError("not used")

    config, sessions = pipeline.settings.ingest, pipeline.sessions
    cameras = enabled_cameras(sessions, config, box)
    service = IngestService(config, cameras, status_sink(sessions), NoPublisher())
    with caplog.at_level(logging.DEBUG):
        try:
            service.sync()
        except RuntimeError:
            pass
    assert "starting ingest of camera gate" in caplog.text
    assert PASSWORD not in caplog.text


def test_migration_encrypts_existing_credentials(infra, tmp_path):
    from alembic.config import Config

    url = _create_database(infra.database_url, f"t_mig_{tmp_path.name[-8:].lower()}")
    cfg = Config()
    cfg.set_main_option("script_location", str(ALEMBIC_DIR))
    cfg.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    command.upgrade(cfg, "0007")
    engine = create_engine(normalize_url(url))
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO cameras (name, url, loop, enabled, status, kept_frames, "
                "pruned_frames, dropped_frames, resume_index, next_window_seq) VALUES "
                "('gate', :u, false, true, 'new', 0, 0, 0, 0, 0)"
            ),
            {"u": CAMERA_URL},
        )
        conn.execute(
            text(
                "INSERT INTO webhook_subscriptions (url, secret, events, enabled) VALUES "
                "('http://u:p@hooks.example.com/x', 'plain-webhook-secret', '[]', true)"
            )
        )
    key_file = tmp_path / "keys" / "secret.key"
    cfg.attributes["key_file"] = key_file
    command.upgrade(cfg, "head")
    with engine.begin() as conn:
        cam = conn.execute(text("SELECT url, url_sealed FROM cameras")).one()
        hook = conn.execute(text("SELECT url, url_sealed, secret FROM webhook_subscriptions")).one()
    engine.dispose()
    assert PASSWORD not in cam.url and cam.url_sealed
    assert "plain-webhook-secret" not in hook.secret and ":p@" not in hook.url
    box = SecretBox.from_file(key_file)
    assert box.open(cam.url_sealed) == CAMERA_URL
    assert box.open(hook.secret) == "plain-webhook-secret"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
