"""Start `rtsp_server.py` (a real GStreamer RTSP camera) from tests running in the venv.

PyGObject only exists for the system interpreter, so the server runs as a /usr/bin/python3
subprocess; that also lets tests freeze it with SIGSTOP (a hung camera: the TCP connection stays
open but no byte arrives) or kill it (a camera that drops off the network).
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.mjpeg import free_port

SYSTEM_PYTHON = "/usr/bin/python3"
SERVER_SCRIPT = Path(__file__).with_name("rtsp_server.py")
# The server decodes the MP4 and re-encodes it with x264 (gstreamer1.0-plugins-ugly): without an
# element it would answer every client "503 Service Unavailable", so name it up front.
_ELEMENTS = ("qtdemux", "avdec_h264", "x264enc", "rtph264pay")
_GI_CHECK = (
    "import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0'); "
    "from gi.repository import Gst, GstRtspServer; Gst.init(None); "
    f"gone = [e for e in {_ELEMENTS!r} if not Gst.ElementFactory.find(e)]; "
    "assert not gone, 'GStreamer elements missing: ' + ', '.join(gone)"
)


def rtsp_unavailable_reason() -> str | None:
    """Why the RTSP test server cannot run here, or None if it can (for pytest skips)."""
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        return f"{SYSTEM_PYTHON} not found"
    result = subprocess.run(
        [SYSTEM_PYTHON, "-c", _GI_CHECK], capture_output=True, text=True, timeout=30
    )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["?"])[-1]
        return (
            f"{SYSTEM_PYTHON} cannot run the RTSP test camera ({last}); run "
            "scripts/system-deps.sh (python3-gi, gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-"
            "good/bad/ugly, gstreamer1.0-libav)"
        )
    return None


class RtspServer:
    """One looping RTSP camera at rtsp://127.0.0.1:PORT/MOUNT serving `video`; `extra_mounts`
    ({mount: video}) adds more cameras to the same server process."""

    def __init__(
        self,
        video: Path,
        port: int | None = None,
        mount: str = "/cam",
        ready_timeout: float = 20,
        extra_mounts: dict[str, Path] | None = None,
    ) -> None:
        self.video = Path(video)
        self.port = port or free_port()
        self.mount = mount
        self.extra_mounts = {m: Path(v) for m, v in (extra_mounts or {}).items()}
        self.ready_timeout = ready_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = tempfile.TemporaryFile()

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}{self.mount}"

    def url_for(self, mount: str) -> str:
        return f"rtsp://127.0.0.1:{self.port}{mount}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self) -> None:
        """Start (or restart, on the same port) and wait until it accepts clients."""
        if self._proc is not None:
            return
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
        command = [SYSTEM_PYTHON, str(SERVER_SCRIPT), "--port", str(self.port)]
        mounts = {self.mount: self.video, **self.extra_mounts}
        command += [arg for mount in mounts for arg in ("--mount", mount)]
        command += [str(video) for video in mounts.values()]
        self._proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=self._log, env=env, start_new_session=True
        )
        try:
            self._wait_ready()
        except Exception:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        deadline = time.monotonic() + self.ready_timeout
        with selectors.DefaultSelector() as selector:
            selector.register(self._proc.stdout, selectors.EVENT_READ)
            while (left := deadline - time.monotonic()) > 0:
                if selector.select(left) and self._proc.stdout.readline().strip() == b"READY":
                    return
                if self._proc.poll() is not None:
                    break
        raise RuntimeError(f"RTSP server did not get ready: {self.log_tail()}")

    def stop(self) -> None:
        """Kill the server: clients see their connections close."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)  # a frozen process cannot act on SIGTERM
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()

    def freeze(self) -> None:
        """SIGSTOP: connections stay open, nothing is sent (a hung camera)."""
        if self._proc is not None:
            os.kill(self._proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        if self._proc is not None:
            os.kill(self._proc.pid, signal.SIGCONT)

    def log_tail(self, limit: int = 2000) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-limit:]

    def __enter__(self) -> RtspServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
        self._log.close()
