"""The FastAPI app factory: everything the app needs is passed in, nothing is global, so tests
build one app per database and `vad up` builds one from its settings."""

from __future__ import annotations

import threading

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from api import errors
from api.limits import RateLimiter
from api.middleware import RequestGuard
from api.routes import cameras, incidents, regions, search, system, ui, webhooks
from api.settings import ApiAppSettings
from db.secrets import SecretBox
from frames.reader import FrameReader
from vad.address_policy import camera_policy, webhook_policy
from webhooks.delivery import Sender, webhook_config

DESCRIPTION = """Cameras, incidents, webhooks and metrics of the anomaly-detection service.

Every route except `/healthz` needs `Authorization: Bearer <token>` (`vad token create`);
`read` tokens may read, `admin` tokens may also change things."""


def create_app(
    settings: ApiAppSettings,
    sessions: sessionmaker[Session],
    send_delivery: Sender | None = None,
    frame_reader: FrameReader | None = None,
) -> FastAPI:
    """`send_delivery` nudges the webhook worker on a redelivery (None: the sweeper does);
    `frame_reader` reads retained frames back from Kafka for clip export (None: 503)."""
    app = FastAPI(
        title="VAD service API",
        version="0.1.0",
        description=DESCRIPTION,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.sessions = sessions
    app.state.webhooks = webhook_config(settings)
    app.state.send_delivery = send_delivery
    app.state.frame_reader = frame_reader
    security = settings.security
    app.state.secret_box = SecretBox.from_file(settings.key_file())
    app.state.camera_policy = camera_policy(settings)
    app.state.webhook_policy = webhook_policy(settings)
    app.state.auth_failures = RateLimiter(security.auth_failures_per_minute, "failed token checks")
    app.state.search_limiter = RateLimiter(security.search_per_minute, "searches")
    app.state.clip_slots = threading.BoundedSemaphore(security.clip_concurrency)
    app.add_middleware(RequestGuard, state=app.state)
    errors.install(app)
    for module in (system, cameras, regions, incidents, search, webhooks, ui):
        app.include_router(module.router)
    return app
