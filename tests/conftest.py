"""Shared fixtures. Integration tests start the real embedded servers once per session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.support.mjpeg import free_port
from tests.support.requirements import missing

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
PED2 = SHARED_DATA / "ucsd_ped2"

os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def ped2() -> Path:
    if not (PED2 / "test_labels.json").exists():
        missing(f"UCSD Ped2 footage not found at {PED2} (see ../shared/data/README.md)")
    return PED2


REAL_WEIGHT_FIXTURES = {"real_ssd_dir", "real_ssd_pulled"}


def pytest_collection_modifyitems(items) -> None:
    """Tests using real pulled weights carry the `real_weights` marker (`-m "not real_weights"`
    runs without them; they skip by themselves, naming why, where the registry is unreachable).
    Tests marked `embedded_broker_only(why)` skip their Kafka parametrization before any setup."""
    for item in items:
        if REAL_WEIGHT_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.real_weights)
        once = item.get_closest_marker("embedded_broker_only")
        if once and _broker(item) == "kafka":
            reason = f"runs once, with the embedded broker: {once.args[0]}"
            item.add_marker(pytest.mark.skip(reason=reason))


def _broker(item) -> str | None:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("infra") if callspec else None


@pytest.fixture(scope="session")
def real_ssd_pulled() -> Path:
    """downloads/ssd-mobilenetv2-oidv4 in the test cache (label map + .tflite, pinned)."""
    from tests.support.real_models import pulled

    return pulled("ssd-mobilenetv2-oidv4")


@pytest.fixture(scope="session")
def real_ssd_dir(tmp_path_factory) -> Path:
    """A model folder holding the real default detector (pulled once into ~/.cache/vad/models,
    exported for this session); its detector is at encoders/ssd-mobilenetv2-oidv4."""
    from tests.support.real_models import exported

    model_dir = tmp_path_factory.mktemp("real-models")
    exported("ssd-mobilenetv2-oidv4", model_dir)
    return model_dir


KAFKA_BROKERS = ["tansu", "kafka"]


@pytest.fixture(scope="session", params=KAFKA_BROKERS, ids=lambda b: f"broker={b}")
def infra(request, tmp_path_factory):
    """Embedded PostgreSQL + Redis + a Kafka-API broker for the whole session, on free ports.

    Parametrized over the broker: "tansu" (the embedded one users get from `vad up`) and
    "kafka" (real Apache Kafka, KRaft on disk, from tests/support/kafka_server.py)."""
    from service.infra import Infrastructure
    from service.settings import Settings
    from tests.support.server_dirs import remove_server_dir, server_dir

    broker = request.param
    kept = tmp_path_factory.mktemp(f"infra-{broker}")  # Kafka and the servers' logs
    data_dir = server_dir(f"infra-{broker}")  # PostgreSQL, another user: outside pytest's tree
    kafka = None
    try:
        if broker == "kafka":
            from tests.support.kafka_server import KafkaServer, kafka_unavailable_reason

            reason = kafka_unavailable_reason()
            if reason:
                missing(reason)
            kafka = KafkaServer(kept / "kafka").start()
        settings = Settings(
            _env_file=None,
            data_dir=data_dir,
            database_url=None,
            kafka_bootstrap=kafka.bootstrap if kafka else None,  # set: Infrastructure skips tansu
            celery_broker=None,
            embedded_kafka_port=free_port(),
            embedded_redis_port=free_port(),
        )
        stack = Infrastructure(settings)
        try:
            endpoints = stack.start()
        except BaseException:
            if kafka:
                kafka.kill()
            raise
        yield endpoints
        stack.stop()
        if kafka:
            kafka.stop()
            shutil.rmtree(kafka.log_dir, ignore_errors=True)  # GBs of topic data; its log stays
    finally:
        remove_server_dir(data_dir, keep_logs_in=kept)


@pytest.fixture
def pipeline(infra, tmp_path):
    from tests.support.pipeline import make_pipeline

    pipe = make_pipeline(infra, tmp_path)
    yield pipe
    pipe.close()


@pytest.fixture
def db_sessions(infra, request):
    """A fresh migrated database for tests that need PostgreSQL only: they run with the
    embedded broker alone, since the Kafka parametrization would repeat them unchanged."""
    import uuid

    from db.session import make_engine, make_sessionmaker, upgrade_database
    from tests.support.pipeline import _create_database, database_only, drop_database

    database_only(request)
    name = f"t_db_{uuid.uuid4().hex[:8]}"
    url = _create_database(infra.database_url, name)
    upgrade_database(url)
    engine = make_engine(url)
    yield make_sessionmaker(engine)
    engine.dispose()
    drop_database(infra.database_url, name)
