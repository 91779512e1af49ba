"""What `bench/load.py` and `bench/soak.py` share: the whole service as `vad up` runs it
(PostgreSQL, a Kafka broker, Redis, dispatcher, Celery workers, ingest, API, webhook worker) in
a scratch dir, N replayed Ped2 cameras served by one real GStreamer RTSP server, and sampling of
every process's memory and CPU.

The broker defaults to Apache Kafka on disk (what production runs); the embedded tansu broker keeps
its whole log in memory, so it would show up as a leak in a soak by design.
"""

from __future__ import annotations

import platform
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from db import camera_queries, model_registry  # noqa: E402
from db.session import make_engine, make_sessionmaker, transaction  # noqa: E402
from service.learning import file_clips  # noqa: E402
from service.settings import Settings  # noqa: E402
from service.supervisor import Stack  # noqa: E402
from tests.support.mjpeg import free_port  # noqa: E402
from tests.support.rtsp import RtspServer  # noqa: E402
from vad.scoring.normality import fit_normality_model  # noqa: E402

PED2 = ROOT.parent / "shared" / "data" / "ucsd_ped2"
CAMERA_FPS = 2.0


def machine() -> dict:
    """Where a figure was measured; the load average matters on a shared machine."""
    memory = psutil.virtual_memory().total / 2**30
    return {
        "host": f"{platform.node()} {platform.machine()}",
        "cores": psutil.cpu_count(),
        "memory_gb": round(memory, 1),
        "gpu": "none",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_average": [round(x, 2) for x in psutil.getloadavg()],
    }


@dataclass
class BenchStack:
    """The service plus an RTSP server with one mount per camera (Ped2 test videos, cycled)."""

    max_cameras: int
    workers: int = 2
    broker: str = "kafka"
    scratch: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="vad-bench-")))
    settings: Settings | None = None
    sessions: sessionmaker[Session] | None = None
    camera_ids: list[int] = field(default_factory=list)
    _stack: Stack | None = None
    _kafka: object | None = None
    _rtsp: RtspServer | None = None

    def start(self) -> BenchStack:
        try:
            self._start_broker()
            self.settings = Settings(
                _env_file=None,
                data_dir=self.scratch / "var",
                model_dir=self.scratch / "models",
                database_url=None,
                kafka_bootstrap=self._kafka.bootstrap if self._kafka else None,
                celery_broker=None,
                embedded_kafka_port=free_port(),
                embedded_redis_port=free_port(),
                api_port=free_port(),
                workers=self.workers,
            )
            self._stack = Stack(self.settings, workers=self.workers, ingest=True)
            endpoints = self._stack.start()
            self.sessions = make_sessionmaker(make_engine(endpoints.database_url))
            self._start_cameras()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_broker(self) -> None:
        if self.broker == "kafka":
            from tests.support.kafka_server import KafkaServer

            self._kafka = KafkaServer(self.scratch / "kafka").start()

    def _start_cameras(self) -> None:
        """One RTSP mount and one (disabled) camera per slot, each with the same normality model
        fitted on Ped2 training clips at the camera's analysis fps."""
        videos = sorted((PED2 / "test").glob("*.mp4"))
        mounts = {f"/cam{i}": videos[i % len(videos)] for i in range(self.max_cameras)}
        first = next(iter(mounts))
        self._rtsp = RtspServer(
            mounts[first],
            mount=first,
            extra_mounts={m: v for m, v in mounts.items() if m != first},
            ready_timeout=120,
        )
        self._rtsp.start()
        train = sorted((PED2 / "train").glob("*.mp4"))
        model = fit_normality_model(
            file_clips(train, CAMERA_FPS, self.settings.ingest), self.settings.normality
        )
        with transaction(self.sessions) as session:
            for i, mount in enumerate(mounts):
                name = f"cam{i:02d}"
                url = self._rtsp.url_for(mount)
                camera = camera_queries.add_camera(session, name, url, CAMERA_FPS, False, False)
                directory = self.settings.model_dir / name / "v1"
                model.save(directory)
                model_registry.register_model(session, camera.id, 1, str(directory), 0, "bench", {})
                self.camera_ids.append(camera.id)

    def enable(self, count: int) -> None:
        """Exactly the first `count` cameras are enabled (ingest picks this up within ~2 s)."""
        with transaction(self.sessions) as session:
            session.execute(
                text("UPDATE cameras SET enabled = (id = ANY(:on))"),
                {"on": self.camera_ids[:count]},
            )

    def scalar(self, sql: str, **params):
        with self.sessions() as session:
            return session.execute(text(sql), params).scalar()

    def rows(self, sql: str, **params) -> list:
        with self.sessions() as session:
            return list(session.execute(text(sql), params))

    def roles(self) -> dict[int, str]:
        """pid -> role of every process the service runs (and the RTSP camera server)."""
        roles: dict[int, str] = {}
        if self._stack is not None:
            for name, child in self._stack.children.items():
                if child.pid:
                    roles[child.pid] = name
        if self._rtsp is not None and self._rtsp.pid:
            roles[self._rtsp.pid] = "rtsp-cameras"
        if self._kafka is not None and self._kafka.running:
            roles[self._kafka.process.pid] = "kafka"
        for child in psutil.Process().children(recursive=True):  # e.g. Redis, tansu
            try:
                if child.pid not in roles:
                    roles[child.pid] = _server_role(child.name(), " ".join(child.cmdline()))
            except psutil.Error:
                continue
        scratch = str(self.scratch)
        for proc in psutil.process_iter(["pid", "name", "cmdline"]):
            cmdline = " ".join(proc.info["cmdline"] or [])
            if proc.info["pid"] not in roles and scratch in cmdline:
                roles[proc.info["pid"]] = _server_role(proc.info["name"] or "", cmdline)
        return roles

    def stop(self) -> None:
        for part in (self._rtsp, self._stack, self._kafka):
            if part is not None:
                try:
                    part.stop()
                except Exception as error:  # noqa: BLE001 - keep cleaning up
                    print(f"cleanup: {error}", file=sys.stderr)
        if self.sessions is not None:
            self.sessions.kw["bind"].dispose()
        shutil.rmtree(self.scratch, ignore_errors=True)


def _server_role(name: str, cmdline: str) -> str:
    """Servers started in the scratch dir; PostgreSQL backends (whose command line names no
    directory) are found as the postmaster's children."""
    for role in ("postgres", "redis", "tansu"):
        if role in name or role in cmdline:
            return role
    return name or "other"


class ProcessSampler:
    """Samples RSS/PSS and CPU time of the service's processes, grouped by role.

    PostgreSQL's many backends come and go and share memory, so a role's memory is the sum of its
    processes' PSS (shared pages split among sharers); CPU is the sum of per-process deltas."""

    def __init__(self, bench: BenchStack) -> None:
        self.bench = bench
        self._procs: dict[int, tuple[psutil.Process, str]] = {}
        self._cpu: dict[int, float] = {}
        self.cpu_seconds: dict[str, float] = defaultdict(float)
        self.samples: list[dict] = []

    def _refresh(self) -> None:
        for pid, role in self.bench.roles().items():
            if pid not in self._procs:
                try:
                    process = psutil.Process(pid)
                    self._procs[pid] = (process, role)
                    self._add_children(process, role)
                except psutil.Error:
                    continue
        for process, role in list(self._procs.values()):
            self._add_children(process, role)

    def _add_children(self, process: psutil.Process, role: str) -> None:
        try:
            for child in process.children(recursive=True):
                self._procs.setdefault(child.pid, (child, role))
        except psutil.Error:
            pass

    def reset_cpu(self) -> None:
        """Start counting CPU from now (per-process baselines)."""
        self._refresh()
        self.cpu_seconds.clear()
        self._cpu = {pid: _cpu(p) for pid, (p, _) in self._procs.items()}

    def sample(self, memory: bool = True) -> dict:
        """One reading: {role: {"rss_mb": max over processes, "pss_mb": sum}}; CPU accumulates."""
        self._refresh()
        reading: dict[str, dict[str, float]] = {}
        for pid, (process, role) in list(self._procs.items()):
            try:
                used = _cpu(process)
                self.cpu_seconds[role] += used - self._cpu.get(pid, used)
                self._cpu[pid] = used
                if memory:
                    info = process.memory_full_info()
                    slot = reading.setdefault(role, {"rss_mb": 0.0, "pss_mb": 0.0, "procs": 0})
                    slot["rss_mb"] = max(slot["rss_mb"], info.rss / 2**20)
                    slot["pss_mb"] += info.pss / 2**20
                    slot["procs"] += 1
            except psutil.Error:
                del self._procs[pid]
                self._cpu.pop(pid, None)
        if memory:
            self.samples.append({"t": time.time(), "roles": reading})
        return reading


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system
