"""The ingest process's database side, wired into ingest/ by service/ (ingest/ knows no
database): the enabled cameras as `CameraSpec`s, and the sink that stores their status."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from db import camera_queries
from db.models import Camera
from db.secrets import SecretBox, open_url
from db.session import transaction
from ingest.camera import CameraSpec
from ingest.service import CameraList, StatusSink
from ingest.settings import IngestConfig
from vad.address_policy import AddressPolicy
from vad.types import IngestReport


def camera_spec(
    camera: Camera,
    config: IngestConfig,
    box: SecretBox | None = None,
    policy: AddressPolicy | None = None,
) -> CameraSpec:
    """The camera as ingest runs it: with its credentials opened (`box`) and the address policy
    its connections go through."""
    return CameraSpec(
        id=camera.id,
        name=camera.name,
        url=open_url(box, camera.url, camera.url_sealed),
        fps=config.camera_fps(camera.fps),
        loop=camera.loop,
        resume_index=camera.resume_index or 0,
        policy=policy,
        verify_tls=camera.verify_tls,
    )


def enabled_cameras(
    sessions: sessionmaker[Session],
    config: IngestConfig,
    box: SecretBox | None = None,
    policy: AddressPolicy | None = None,
) -> CameraList:
    """The enabled cameras, read afresh on each call; `box` opens sealed credentials."""

    def cameras() -> list[CameraSpec]:
        with sessions() as session:
            return [
                camera_spec(camera, config, box, policy)
                for camera in camera_queries.list_cameras(session, enabled_only=True)
            ]

    return cameras


def status_sink(sessions: sessionmaker[Session]) -> StatusSink:
    """Stores reports in one transaction: every report is written, or none (and it raises)."""

    def store(reports: list[IngestReport]) -> None:
        with transaction(sessions) as session:
            for item in reports:
                camera_queries.apply_ingest_report(session, item)

    return store
