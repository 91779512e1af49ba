"""Shared fixtures. Integration tests start the real embedded servers once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.mjpeg import free_port

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
PED2 = SHARED_DATA / "ucsd_ped2"

os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def ped2() -> Path:
    if not (PED2 / "test_labels.json").exists():
        pytest.skip(f"UCSD Ped2 footage not found at {PED2} (see ../shared/data/README.md)")
    return PED2


@pytest.fixture(scope="session")
def infra(tmp_path_factory):
    """Embedded PostgreSQL + tansu + Redis for the whole session, on free ports."""
    from service.infra import Infrastructure
    from vad.config import Settings

    data_dir = tmp_path_factory.mktemp("infra")
    settings = Settings(
        _env_file=None,
        data_dir=data_dir,
        database_url=None,
        kafka_bootstrap=None,
        celery_broker=None,
        embedded_kafka_port=free_port(),
        embedded_redis_port=free_port(),
    )
    stack = Infrastructure(settings)
    endpoints = stack.start()
    yield endpoints
    stack.stop()


@pytest.fixture
def pipeline(infra, tmp_path):
    from tests.support.pipeline import make_pipeline

    pipe = make_pipeline(infra, tmp_path)
    yield pipe
    pipe.close()
