"""The delivery task is registered under its name and nudges go to the webhooks queue."""

from __future__ import annotations

from celery import Celery

from webhooks.delivery import (
    DELIVER_WEBHOOK,
    SWEEP_WEBHOOKS,
    WEBHOOK_QUEUE,
    celery_sender,
    register_webhook_tasks,
)
from webhooks.settings import WebhookConfig


def test_tasks_registered_and_sender_uses_webhooks_queue(monkeypatch):
    app = Celery("t", broker="memory://", set_as_current=False)
    register_webhook_tasks(app, WebhookConfig(), sessions=None)
    assert {DELIVER_WEBHOOK, SWEEP_WEBHOOKS} <= set(app.tasks)
    sent = []
    monkeypatch.setattr(app, "send_task", lambda name, **kw: sent.append((name, kw)))
    celery_sender(app)(42, 7.5)
    assert sent == [(DELIVER_WEBHOOK, {"args": [42], "queue": WEBHOOK_QUEUE, "countdown": 7.5})]
