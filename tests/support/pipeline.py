"""Running the real pipeline processes from tests: each test gets its own database, Kafka topic and
Redis database on the session's embedded servers, and its own `vad` processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from db.session import make_engine, make_sessionmaker, normalize_url, upgrade_database
from frames.admin import ensure_topic
from service.settings import Settings
from workers.settings import Endpoints

REPO_ROOT = Path(__file__).resolve().parents[2]


def wait_until(
    predicate: Callable[[], object],
    timeout: float,
    what: str | Callable[[], str],
    every: float = 0.2,
):
    """Poll until `predicate()` is truthy; fail the test with `what` (text, or a function giving
    text such as process logs at the time of failure) otherwise."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as error:  # noqa: BLE001 - e.g. database restarting
            last_error = error
        time.sleep(every)
    described = what() if callable(what) else what
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {described} ({last_error})")


@dataclass
class Proc:
    name: str
    process: subprocess.Popen
    log_path: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def terminate(self, timeout: float = 60.0) -> None:
        """SIGTERM, then SIGKILL if it has not stopped by `timeout` (generous: a clean stop drains
        and reports, which a busy machine slows down)."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        if self.alive():
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@dataclass
class Pipeline:
    """One test's view of the service: env for `vad` processes plus database access."""

    env: dict[str, str]
    settings: Settings
    endpoints: Endpoints
    sessions: sessionmaker[Session]
    log_dir: Path
    admin_url: str  # the server's maintenance database, to drop this test's one at close
    database: str
    procs: list[Proc] = field(default_factory=list)

    def start(self, name: str, *args: str, extra_env: dict[str, str] | None = None) -> Proc:
        log_path = self.log_dir / f"{name}-{len(self.procs)}.log"
        env = {**self.env, **(extra_env or {})}
        with open(log_path, "wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "service.cli", *args],
                env=env,
                cwd=REPO_ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        proc = Proc(name, process, log_path)
        self.procs.append(proc)
        return proc

    def vad(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "service.cli", *args],
            env=self.env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def scalar(self, sql: str, **params):
        with self.sessions() as session:
            return session.execute(text(sql), params).scalar()

    def rows(self, sql: str, **params) -> list:
        with self.sessions() as session:
            return list(session.execute(text(sql), params))

    def logs(self) -> str:
        return "\n".join(f"==== {p.name}\n{p.log()[-4000:]}" for p in self.procs)

    def close(self) -> None:
        for proc in reversed(self.procs):
            proc.kill()
        self.sessions.kw["bind"].dispose()
        drop_database(self.admin_url, self.database)


def database_only(request) -> None:
    """Skip the Kafka parametrization of a test that needs PostgreSQL only: it would repeat the
    embedded-broker run unchanged (both brokers are installed in CI; this is not a missing part).
    For fixtures that make a database; a test or module says it with the `embedded_broker_only`
    marker (tests/conftest.py), which skips before any setup."""
    if request.node.callspec.params.get("infra") == "kafka":
        pytest.skip("database-only test: runs once, with the embedded broker")


TEST_ALLOWLIST = ["127.0.0.1/32"]


def make_pipeline(endpoints: Endpoints, tmp_path: Path, **overrides: str) -> Pipeline:
    """A fresh database + topic + Redis db on the shared servers, and env for `vad` processes."""
    tag = uuid.uuid4().hex[:10]
    database = f"t_{tag}"
    database_url = _create_database(endpoints.database_url, database)
    upgrade_database(database_url)
    topic = f"frames_{tag}"
    ensure_topic(endpoints.kafka_bootstrap, topic, 2)
    broker = endpoints.celery_broker.rsplit("/", 1)[0] + "/" + str(_free_redis_db(endpoints))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("VAD_")},
        "VAD_DATABASE_URL": database_url,
        "VAD_KAFKA_BOOTSTRAP": endpoints.kafka_bootstrap,
        "VAD_CELERY_BROKER": broker,
        "VAD_KAFKA_TOPIC": topic,
        "VAD_KAFKA_PARTITIONS": "2",
        "VAD_DATA_DIR": str(tmp_path / "var"),
        "VAD_MODEL_DIR": str(tmp_path / "models"),
        "VAD_WINDOWS__REQUEUE_AFTER_SECONDS": "5",
        "VAD_WINDOWS__IDLE_FLUSH_SECONDS": "1.5",
        "VAD_BROKER_VISIBILITY_TIMEOUT": "8",
        "VAD_INGEST__READ_TIMEOUT_SECONDS": "3",
        "VAD_INGEST__OPEN_TIMEOUT_SECONDS": "3",
        "VAD_INGEST__BACKOFF_MAX_SECONDS": "2",
        "VAD_INGEST__OFFLINE_AFTER_FAILURES": "4",
        "VAD_INGEST__STATUS_INTERVAL_SECONDS": "0.5",
        "PYTHONUNBUFFERED": "1",
        # test cameras and receivers listen on this machine (the policy denies loopback)
        "VAD_SECURITY__ALLOWLIST": json.dumps(TEST_ALLOWLIST),
        **overrides,
    }
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path / "var",  # the same key file as the `vad` processes of the test
        security={"allowlist": TEST_ALLOWLIST},
        database_url=database_url,
        kafka_bootstrap=endpoints.kafka_bootstrap,
        celery_broker=broker,
        kafka_topic=topic,
        kafka_partitions=2,
    )
    log_dir = tmp_path / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    return Pipeline(
        env,
        settings,
        Endpoints(
            database_url=database_url,
            kafka_bootstrap=endpoints.kafka_bootstrap,
            celery_broker=broker,
        ),
        make_sessionmaker(make_engine(database_url)),
        log_dir,
        endpoints.database_url,
        database,
    )


def _create_database(admin_url: str, name: str) -> str:
    engine = create_engine(normalize_url(admin_url), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    base, _, query = admin_url.partition("?")
    return base.rsplit("/", 1)[0] + f"/{name}" + (f"?{query}" if query else "")


def drop_database(admin_url: str, name: str) -> None:
    """Drop a test's database once the test is done with it (its processes are dead or dying:
    FORCE ends their sessions). A migrated database takes about 8 MB, the session's server
    held ~1 GB of them after one run, which filled CI's disk."""
    engine = create_engine(normalize_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    except SQLAlchemyError as error:  # disk hygiene only: the test's verdict stands
        warnings.warn(f"test database {name} not dropped: {error}", stacklevel=2)
    finally:
        engine.dispose()


_used_dbs: set[int] = set()


def _free_redis_db(endpoints: Endpoints) -> int:
    """Redis has 16 numbered databases; give each test a flushed one."""
    for number in range(1, 16):
        if number not in _used_dbs:
            _used_dbs.add(number)
            break
    else:
        _used_dbs.clear()
        number = 1
        _used_dbs.add(number)
    client = redis.Redis.from_url(endpoints.celery_broker.rsplit("/", 1)[0] + f"/{number}")
    client.flushdb()
    client.close()
    return number
