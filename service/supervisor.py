"""`vad up`: start the embedded infrastructure and the pipeline processes, keep them running, and
stop them in an order that loses nothing.

Shutdown order: ingest first (no new frames), then the dispatcher (it closes every open window),
then wait for queued windows to be scored, then workers, then the servers.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from db.models import Window
from db.secrets import load_or_create_key
from db.session import make_engine, make_sessionmaker, upgrade_database
from frames.admin import ensure_topic
from service.infra import Infrastructure, clear_endpoints, open_log, write_endpoints
from service.relearn import Relearner
from service.settings import Settings
from vad.stage2.llama import (
    free_port,
    gguf_file,
    llama_missing,
    server_command,
    server_url,
    wait_until_ready,
)
from vad.stage2.loading import Stage2Status, stage2_status
from workers.settings import Endpoints

log = logging.getLogger(__name__)

_RESTART_BACKOFF_MAX = 30.0


@dataclass
class Child:
    """A pipeline process restarted with backoff when it dies unexpectedly."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen | None = None
    restarts: int = 0
    next_start: float = 0.0
    backoff: float = field(default=0.5)

    def start(self) -> None:
        with open_log(self.log_path) as out:
            self.process = subprocess.Popen(
                self.argv,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def check(self) -> None:
        """Restart after an unexpected exit, waiting longer after each crash."""
        if self.alive():
            return
        now = time.monotonic()
        if self.process is not None and self.next_start == 0.0:
            log.warning(
                "%s exited with code %s; restarting in %.1f s (log: %s)",
                self.name,
                self.process.returncode,
                self.backoff,
                self.log_path,
            )
            self.next_start = now + self.backoff
            self.backoff = min(self.backoff * 2, _RESTART_BACKOFF_MAX)
            return
        if now >= self.next_start:
            self.restarts += 1
            self.next_start = 0.0
            self.start()

    def stop(self, timeout: float) -> None:
        if not self.alive():
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in %.0f s; killing it", self.name, timeout)
            self.process.kill()
            self.process.wait()


def child_env(settings: Settings, endpoints: Endpoints) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        VAD_DATABASE_URL=endpoints.database_url,
        VAD_KAFKA_BOOTSTRAP=endpoints.kafka_bootstrap,
        VAD_CELERY_BROKER=endpoints.celery_broker,
        VAD_DATA_DIR=str(settings.resolved_data_dir()),
        VAD_MODEL_DIR=str(settings.model_dir.resolve()),
        PYTHONUNBUFFERED="1",
    )
    return env


def vad_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "service.cli", *args]


def relearn_command(camera: str, hours: float) -> list[str]:
    """A scheduled relearn: the camera's stored frames of the last `hours`."""
    return vad_command("camera", "learn", camera, "--recent", f"{hours:g}h")


class Stack:
    """The whole service on one machine."""

    def __init__(self, settings: Settings, workers: int | None = None, ingest: bool = True):
        self.settings = settings
        self.infra = Infrastructure(settings)
        self.worker_count = workers or settings.workers
        self.with_ingest = ingest
        self.children: dict[str, Child] = {}
        self.endpoints: Endpoints | None = None
        self.relearner: Relearner | None = None
        self.stage2: Stage2Status | None = None  # decided with the children; the CLI prints it

    def start(self) -> Endpoints:
        endpoints = self.infra.start()
        try:
            load_or_create_key(self.settings.key_file())  # before children race to create it
            upgrade_database(endpoints.database_url, self.settings.key_file())
            ensure_topic(
                endpoints.kafka_bootstrap, self.settings.kafka_topic, self.settings.kafka_partitions
            )
            write_endpoints(self.settings, endpoints)
            self.endpoints = endpoints
            self._spawn_children(endpoints)
        except Exception:
            self.stop()
            raise
        return endpoints

    def _spawn_children(self, endpoints: Endpoints) -> None:
        env = child_env(self.settings, endpoints)
        logs = self.settings.resolved_data_dir() / "logs"
        names = [("dispatcher", vad_command("dispatcher"))]
        names += [
            (f"worker-{i}", vad_command("worker", "--name", f"worker-{i}"))
            for i in range(1, self.worker_count + 1)
        ]
        names.append(("api", vad_command("api", "--port", str(self.settings.api_port))))
        names.append(("webhooks", vad_command("webhook-worker")))
        settings = self.settings
        server = start_llm_server(settings, env, logs / "llm.log")
        if server is not None:
            child, url = server
            self.children["llm"] = child
            env["VAD_STAGE2__LLM_URL"], env["VAD_STAGE2__LLM_MODEL"] = url, settings.stage2.llm_gguf
            stage2_cfg = settings.stage2.model_copy(
                update={"llm_url": url, "llm_model": settings.stage2.llm_gguf}
            )
            settings = settings.model_copy(update={"stage2": stage2_cfg})
        self.stage2 = stage2_status(settings)  # with the LLM server this stack serves, if any
        if self.stage2.enabled:
            names.append(("stage2", vad_command("stage2-worker")))
        if self.with_ingest:
            names.append(("ingest", vad_command("ingest")))
        for name, argv in names:
            child = Child(name, argv, env, logs / f"{name}.log")
            child.start()
            self.children[name] = child
        self.relearner = Relearner(sessions_for(endpoints), relearn_command, env, logs)

    def supervise(self, stop: threading.Event, tick: float = 0.5) -> None:
        every = self.settings.feedback.relearn_check_seconds
        next_relearn = time.monotonic()
        while not stop.wait(tick):
            for child in self.children.values():
                child.check()
            if self.relearner is not None and time.monotonic() >= next_relearn:
                next_relearn = time.monotonic() + every
                self.relearner.tick(datetime.now(UTC))

    def stop(self, drain_seconds: float = 30.0) -> None:
        """Stop without losing frames that were already accepted."""
        ingest = self.children.get("ingest")
        if ingest:
            ingest.stop(15)
        dispatcher = self.children.get("dispatcher")
        if dispatcher:
            dispatcher.stop(15)
        if self.endpoints is not None and any(c.alive() for c in self._workers()):
            self._drain(drain_seconds)
        for child in self._workers():
            child.stop(15)
        for name in ("api", "webhooks", "stage2", "llm"):
            if name in self.children:
                self.children[name].stop(15)
        if self.relearner is not None:
            self.relearner.stop()
        clear_endpoints(self.settings)
        self.infra.stop()

    def _workers(self) -> list[Child]:
        return [c for name, c in self.children.items() if name.startswith("worker")]

    def _drain(self, timeout: float) -> None:
        engine = make_engine(self.endpoints.database_url, pool_size=1)
        deadline = time.monotonic() + timeout
        noted_at: float | None = None
        try:
            while time.monotonic() < deadline:
                with engine.connect() as conn:
                    pending = conn.scalar(
                        select(func.count()).where(Window.status.in_(["queued", "running"]))
                    )
                if not pending:
                    return
                now = time.monotonic()
                if drain_note_due(noted_at, now):
                    noted_at = now
                    log.info(
                        "waiting up to %.0f s for %s window(s) to be scored",
                        deadline - now,
                        pending,
                    )
                time.sleep(0.5)
            log.warning(
                "stopping with %s window(s) still queued: a broker that keeps its data (Apache "
                "Kafka) has them scored on the next start; the embedded in-memory broker "
                "loses them",
                pending,
            )
        except Exception as error:  # noqa: BLE001
            log.warning("cannot check pending windows: %s", error)
        finally:
            engine.dispose()


def llm_server_model(settings: Settings) -> Path | None:
    """The GGUF `vad up` serves with llama.cpp's server: stage 2 on, no LLM endpoint configured,
    no transformers LLM in the model folder, and the catalog GGUF pulled (None otherwise)."""
    cfg = settings.stage2
    if not cfg.enabled or cfg.llm_url:
        return None
    folder = Path(cfg.llm_model)
    folder = folder if folder.is_absolute() else settings.model_dir.resolve() / folder
    if (folder / "config.json").is_file():
        return None
    gguf = gguf_file(settings.model_dir.resolve(), cfg.llm_gguf)
    return gguf if gguf is not None and gguf.is_file() else None


def start_llm_server(
    settings: Settings, env: dict[str, str], log_path: Path, ready_seconds: float = 120.0
) -> tuple[Child, str] | None:
    """Start llama.cpp's OpenAI-compatible server on 127.0.0.1 for the pulled GGUF and wait until
    it answers; (child, base URL), or None (with the reason logged: stage 2 then runs the model
    in process if it can, else says what is missing)."""
    gguf = llm_server_model(settings)
    if gguf is None:
        return None
    problem = llama_missing(server=True)
    if problem:
        log.warning("%s is pulled but llama.cpp's server cannot start: %s", gguf.name, problem)
        return None
    cfg = settings.stage2
    port = cfg.llm_server_port or free_port()
    argv = server_command(gguf, port, cfg.llm_gguf, cfg.llm_threads, cfg.llm_context)
    child = Child("llm", argv, env, log_path)
    child.start()
    url = server_url(port)
    if not wait_until_ready(url, ready_seconds, child.alive):
        log.warning("llama.cpp server for %s did not come up (log: %s)", gguf.name, log_path)
        child.stop(5)
        return None
    log.info("llama.cpp server for %s at %s", gguf.name, url)
    return child, url


def drain_note_due(noted_at: float | None, now: float, every: float = 5.0) -> bool:
    """Whether the drain should say again how many windows are left: first at once, then every
    few seconds, so a 30 s drain prints a handful of lines, not one every poll."""
    return noted_at is None or now - noted_at >= every


def sessions_for(endpoints: Endpoints):
    return make_sessionmaker(make_engine(endpoints.database_url))
