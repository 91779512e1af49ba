"""`vad up` as users run it: the embedded stack, Ctrl-C, and a restart that resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from tests.support.mjpeg import free_port
from tests.support.pipeline import REPO_ROOT, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def data_dir(tmp_path):
    """`vad up`'s data folder; PostgreSQL runs as another user, so outside pytest's tree."""
    from tests.support.server_dirs import remove_server_dir, server_dir

    path = server_dir("stack")
    yield path
    remove_server_dir(path, keep_logs_in=tmp_path)


def _env(tmp_path, data_dir) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAD_")}
    env.update(
        VAD_DATA_DIR=str(data_dir),
        VAD_MODEL_DIR=str(tmp_path / "models"),
        VAD_EMBEDDED_KAFKA_PORT=str(free_port()),
        VAD_EMBEDDED_REDIS_PORT=str(free_port()),
        VAD_API_PORT=str(free_port()),
        VAD_WORKERS="1",
        VAD_INGEST__STATUS_INTERVAL_SECONDS="0.5",
        PYTHONUNBUFFERED="1",
    )
    return env


def _vad(env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _up(env, log_path) -> subprocess.Popen:
    out = open(log_path, "ab")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "up"],
        env=env,
        cwd=REPO_ROOT,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_until(
        lambda: "Ctrl-C stops" in log_path.read_text(),
        180,
        lambda: "vad up started\n" + log_path.read_text(),
    )
    return proc


def _camera(env) -> dict:
    listed = _vad(env, "camera", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    return json.loads(listed.stdout)[0]


def _stop(proc: subprocess.Popen, log_path) -> None:
    proc.send_signal(signal.SIGINT)
    proc.wait(90)
    assert "stopped." in log_path.read_text()


def test_ctrl_c_stops_cleanly_and_restart_resumes(tmp_path, ped2, data_dir):
    env = _env(tmp_path, data_dir)
    log_path = tmp_path / "up.log"
    log_path.touch()
    video = ped2 / "test" / "test_01.mp4"  # 180 frames at 10 fps, played in real time
    proc = _up(env, log_path)
    try:
        assert _vad(env, "camera", "add", "walk", str(video)).returncode == 0
        # Polled in SQL, not through `vad camera list`: a CLI process per poll takes seconds on a
        # busy machine, long enough for the 18 s video to end before the stop.
        wait_until(lambda: _kept_now(env) >= 30, 120, lambda: log_path.read_text(), every=0.1)
        _stop(proc, log_path)
        first_kept = _camera_after_stop(env)
        assert 30 <= first_kept < 180  # stopped mid-file
        proc = _up(env, log_path)
        wait_until(
            lambda: _camera(env)["status"] == "offline: end of file",
            120,
            lambda: log_path.read_text(),
        )
        camera = _camera(env)
        assert camera["kept"] + camera["pruned"] == 180, camera
        scores = wait_until(lambda: _scored(env, camera["kept"]), 120, "every kept frame scored")
        indices = [row["frame_index"] for row in scores]
        assert len(indices) == len(set(indices)), "a frame was scored twice across the restart"
        assert max(indices) == 179 and min(indices) == 0
    finally:
        if proc.poll() is None:
            _stop(proc, log_path)
    leftovers = [
        line
        for line in subprocess.run(
            ["ps", "-eo", "args"], capture_output=True, text=True
        ).stdout.splitlines()
        if str(tmp_path) in line and ("redis-server" in line or "postgres" in line)
    ]
    assert not leftovers, f"servers left running after Ctrl-C: {leftovers}"


def _camera_after_stop(env) -> int:
    """The stack is down; `vad camera list` starts PostgreSQL on its own to answer (retried
    while the stopped server still holds its data directory, however long a busy machine takes)."""
    return wait_until(lambda: _camera(env), 120, "`vad camera list` after the stop")["kept"]


def _sql(env, query: str) -> list[dict]:
    """Rows from the running stack's database (the CLI's view, without a CLI process)."""
    from sqlalchemy import text

    from db.session import make_engine
    from service.infra import resolve_endpoints
    from service.settings import Settings

    settings = Settings(data_dir=env["VAD_DATA_DIR"])
    engine = make_engine(resolve_endpoints(settings).database_url)
    try:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(text(query))]
    finally:
        engine.dispose()


def _kept_now(env) -> int:
    rows = _sql(env, "SELECT kept_frames FROM cameras WHERE name = 'walk'")
    return rows[0]["kept_frames"] if rows else 0


def _scored(env, expected: int):
    rows = _sql(env, "SELECT frame_index FROM frame_scores ORDER BY frame_index")
    return rows if len(rows) >= expected else None
