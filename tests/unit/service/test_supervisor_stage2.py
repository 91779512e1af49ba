"""`vad up` starts a stage-2 worker only when stage 2 can run, and says how to enable it (once:
the start-up summary prints the stack's `stage2`, nothing else logs it)."""

from __future__ import annotations

import logging

from service import supervisor
from service.settings import Settings
from service.supervisor import Stack
from workers.settings import Endpoints

ENDPOINTS = Endpoints(
    database_url="postgresql://x/y", kafka_bootstrap="127.0.0.1:1", celery_broker="redis://x/0"
)


def started(settings: Settings, monkeypatch) -> Stack:
    monkeypatch.setattr(supervisor.Child, "start", lambda self: None)
    stack = Stack(settings, workers=1)
    stack._spawn_children(ENDPOINTS)
    return stack


def spawned(settings: Settings, monkeypatch) -> dict:
    stack = started(settings, monkeypatch)
    return {name: child.argv[3:] for name, child in stack.children.items()}


def test_no_stage2_worker_without_models_and_a_hint(tmp_path, monkeypatch, caplog):
    settings = Settings(_env_file=None, data_dir=tmp_path, model_dir=tmp_path / "models")
    with caplog.at_level(logging.INFO):
        stack = started(settings, monkeypatch)
    assert "stage2" not in stack.children
    assert "To enable it" in stack.stage2.describe()
    assert "stage 2" not in caplog.text  # `vad up` prints it once, in its start-up summary


def test_stage2_worker_when_endpoints_are_configured(tmp_path, monkeypatch):
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path,
        stage2={"captioner_url": "http://127.0.0.1:9/v1", "llm_url": "http://127.0.0.1:9/v1"},
    )
    children = spawned(settings, monkeypatch)
    assert children["stage2"] == ["stage2-worker"]
    assert children["worker-1"][0] == "worker"
