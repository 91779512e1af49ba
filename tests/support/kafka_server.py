"""A real Apache Kafka broker for tests: single node, KRaft (combined broker+controller), on disk.

The jars come from Maven Central through `scripts/kafka-setup.sh` (cached under
~/.cache/vad/kafka-<version>/lib). The broker runs as `java kafka.Kafka server.properties` with
its log dir inside the given directory, on free 127.0.0.1 ports that stay the same across
stop()/kill() and start(), so restart tests see the same bootstrap address and the same data.

    with KafkaServer(tmp_path) as kafka:
        ensure_topic(kafka.bootstrap, "frames", 2)
        kafka.stop(); kafka.start()      # clean restart, data kept
        kafka.kill(); kafka.start()      # SIGKILL, log recovery on start, data kept

Environment: VAD_KAFKA_VERSION, VAD_KAFKA_LIB (see the script), VAD_KAFKA_JAVA (java binary).
"""

from __future__ import annotations

import base64
import functools
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SETUP_SCRIPT = REPO_ROOT / "scripts" / "kafka-setup.sh"
DEFAULT_VERSION = "4.3.1"

LOG4J2 = """\
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.state.name = state.change.logger
logger.state.level = WARN
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def kafka_version() -> str:
    return os.environ.get("VAD_KAFKA_VERSION", DEFAULT_VERSION)


def java_binary() -> str | None:
    return os.environ.get("VAD_KAFKA_JAVA") or shutil.which("java")


@functools.cache
def _resolve_lib(version: str) -> tuple[Path | None, str]:
    """(lib dir, "") or (None, why not). Runs the setup script once per process and version."""
    if java_binary() is None:
        return None, "no `java` on PATH (Kafka needs Java 17+: openjdk-17-jre-headless)"
    env = {**os.environ, "VAD_KAFKA_VERSION": version}
    try:
        done = subprocess.run(
            ["bash", str(SETUP_SCRIPT)], env=env, capture_output=True, text=True, timeout=600
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return None, f"scripts/kafka-setup.sh failed: {error}"
    if done.returncode != 0:
        said = [line for line in done.stderr.splitlines() if "kafka-setup:" in line]
        tail = said[-1][said[-1].index("kafka-setup:") :] if said else done.stderr.strip()[-300:]
        return None, f"Kafka {version} jars not resolvable: {tail}"
    lib = Path(done.stdout.strip().splitlines()[-1])
    if not (lib / f"kafka_2.13-{version}.jar").exists():
        return None, f"scripts/kafka-setup.sh printed {lib}, which has no kafka_2.13-{version}.jar"
    return lib, ""


def kafka_unavailable_reason() -> str | None:
    """Why a real Kafka broker cannot run here (for pytest.skip), or None when it can."""
    lib, why = _resolve_lib(kafka_version())
    return None if lib is not None else why


def new_cluster_id() -> str:
    """A random Kafka cluster id. Like Kafka's own `Uuid.randomUuid`, never one starting with
    '-': the storage tool's argument parser would read it as an option (1 start in 64 failed)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


class KafkaServerError(RuntimeError):
    pass


class KafkaServer:
    """One Apache Kafka node (broker + controller) with its data under `data_dir`."""

    def __init__(
        self,
        data_dir: Path | str,
        *,
        version: str | None = None,
        heap: str = "512m",
        extra_config: dict[str, str] | None = None,
        start_timeout: float = 90.0,
    ) -> None:
        self.dir = Path(data_dir)
        self.version = version or kafka_version()
        self.heap = heap
        self.extra_config = dict(extra_config or {})
        self.start_timeout = start_timeout
        self.port = _free_port()
        self.controller_port = _free_port()
        while self.controller_port == self.port:
            self.controller_port = _free_port()
        self.cluster_id = new_cluster_id()
        self.process: subprocess.Popen | None = None
        self.start_seconds: float | None = None  # wall time of the last start(), format included
        self._log_file = None

    # -- paths ---------------------------------------------------------------------------------

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_dir(self) -> Path:
        """Kafka's data (the topic partitions and the KRaft metadata log)."""
        return self.dir / "data"

    @property
    def config_file(self) -> Path:
        return self.dir / "server.properties"

    @property
    def server_log(self) -> Path:
        return self.dir / "server.log"

    # -- lifecycle -----------------------------------------------------------------------------

    def _lib(self) -> Path:
        lib, why = _resolve_lib(self.version)
        if lib is None:
            raise KafkaServerError(why)
        return lib

    def _write_config(self) -> None:
        config = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": (
                f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}"
            ),
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(self.log_dir),
            "num.partitions": "1",
            "auto.create.topics.enable": "false",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "4",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            # After a SIGKILL the restarted node is refused ("Another broker is registered with
            # that broker id") until its old incarnation's session expires: 9 s by default.
            "broker.session.timeout.ms": "3000",
            "broker.heartbeat.interval.ms": "500",
            "message.max.bytes": str(8 * 1024 * 1024),
            "replica.fetch.max.bytes": str(8 * 1024 * 1024),
            "num.network.threads": "2",
            "num.io.threads": "2",
            "num.recovery.threads.per.data.dir": "1",
            "background.threads": "2",
            "log.cleaner.threads": "1",
        }
        config.update(self.extra_config)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text("".join(f"{k}={v}\n" for k, v in config.items()))
        (self.dir / "log4j2.properties").write_text(LOG4J2)

    def _java(self, lib: Path, main: list[str]) -> list[str]:
        return [
            java_binary() or "java",
            f"-Xmx{self.heap}",
            "-Xms64m",
            "-XX:ActiveProcessorCount=1",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",  # C1 only: starts ~2x faster on one core; ample for tests
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.dir / 'log4j2.properties'}",
            "-cp",
            f"{lib}/*",
            *main,
        ]

    def _format(self, lib: Path) -> None:
        if (self.log_dir / "meta.properties").exists():
            return
        format_args = ["format", "-t", self.cluster_id, "-c", str(self.config_file)]
        argv = self._java(lib, ["kafka.tools.StorageTool", *format_args])
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise KafkaServerError(
                f"formatting {self.log_dir} failed ({done.returncode}): {done.stdout}{done.stderr}"
            )

    def start(self) -> KafkaServer:
        """Start (or restart, same ports and data) and wait until it answers metadata requests."""
        if self.running:
            return self
        began = time.monotonic()
        lib = self._lib()
        self._write_config()
        self._format(lib)
        self._log_file = open(self.server_log, "ab")  # noqa: SIM115 - closed in _reap
        self.process = subprocess.Popen(
            self._java(lib, ["kafka.Kafka", str(self.config_file)]),
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self._wait_ready(began + self.start_timeout)
        except BaseException:
            self.kill()
            raise
        self.start_seconds = time.monotonic() - began
        return self

    def _wait_ready(self, deadline: float) -> None:
        from kafka.admin import KafkaAdminClient

        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise KafkaServerError(
                    f"Kafka exited with code {self.process.returncode} while starting; "
                    f"last lines of {self.server_log}:\n{self.log_tail()}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    pass
            except OSError as error:
                last_error = error
                time.sleep(0.1)
                continue
            try:
                admin = KafkaAdminClient(
                    bootstrap_servers=self.bootstrap,
                    request_timeout_ms=3000,
                    reconnect_backoff_ms=100,
                )
                try:
                    cluster = admin.describe_cluster()
                    if cluster.get("brokers"):
                        admin.list_topics()
                        return
                finally:
                    admin.close()
            except Exception as error:  # noqa: BLE001 - still starting
                last_error = error
            time.sleep(0.2)
        raise KafkaServerError(
            f"Kafka at {self.bootstrap} did not answer metadata requests in time "
            f"({last_error}); last lines of {self.server_log}:\n{self.log_tail()}"
        )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 60.0) -> int | None:
        """SIGTERM and wait for Kafka's controlled shutdown (it exits 143 when clean)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired as slow:
                self.process.kill()
                self.process.wait(10)
                self._reap()
                message = f"Kafka did not stop within {timeout:.0f} s; killed"
                raise KafkaServerError(message) from slow
        return self._reap()

    def kill(self) -> int | None:
        """SIGKILL: no shutdown, no flush beyond what the OS already has (crash tests)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        return self._reap()

    def _reap(self) -> int | None:
        code = self.process.returncode
        self.process = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        return code

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.server_log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> KafkaServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        try:
            self.stop()
        except KafkaServerError:
            pass
