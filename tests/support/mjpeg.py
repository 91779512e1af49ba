"""A tiny MJPEG-over-HTTP test camera on 127.0.0.1.

Many cheap IP cameras serve `multipart/x-mixed-replace` JPEG streams instead of RTSP; this one
replays an MP4's frames that way, endlessly and at the file's frame rate, so ingest can be tested
against the real protocol in-process (no GStreamer needed).
"""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2

BOUNDARY = "vadframe"


def load_jpegs(video: Path, quality: int = 85) -> tuple[list[bytes], float]:
    """Encode every frame once so serving costs no CPU per client."""
    cap = cv2.VideoCapture(str(video), cv2.CAP_FFMPEG)
    fps = cap.get(cv2.CAP_PROP_FPS) or 10.0
    frames: list[bytes] = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes())
    cap.release()
    if not frames:
        raise ValueError(f"no frames in {video}")
    return frames, fps


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MjpegServer:
    """Serves `video` at http://127.0.0.1:PORT/stream.mjpg until stopped.

    `stop()` closes the listener and ends every open stream (clients see the connection close);
    `start()` listens again on the same port, like a camera coming back after a reboot.
    """

    def __init__(self, video: Path, port: int | None = None, path: str = "/stream.mjpg") -> None:
        self.frames, self.fps = load_jpegs(video)
        self.port = port or free_port()
        self.path = path
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self._running = threading.Event()
        self._running.set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def start(self) -> None:
        if self._server is not None:
            return
        self._stopped.clear()
        server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler_for(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True, name="mjpeg")
        self._thread.start()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopped.set()
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def freeze(self) -> None:
        """Stop sending frames but keep connections open (a hung camera)."""
        self._running.clear()

    def thaw(self) -> None:
        self._running.set()

    def __enter__(self) -> MjpegServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _handler_for(owner: MjpegServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep test output quiet
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server naming
            if self.path != owner.path:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            try:
                self._stream()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client went away

        def _stream(self) -> None:
            period = 1.0 / owner.fps
            due = time.monotonic()
            n = 0
            while not owner._stopped.is_set():
                if not owner._running.is_set():  # frozen: hold the connection, send nothing
                    owner._running.wait(0.1)
                    due = time.monotonic()
                    continue
                jpeg = owner.frames[n % len(owner.frames)]
                self.wfile.write(
                    f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                    f"Content-Length: {len(jpeg)}\r\n\r\n".encode()
                    + jpeg
                    + b"\r\n"
                )
                self.wfile.flush()
                n += 1
                due += period
                owner._stopped.wait(max(0.0, due - time.monotonic()))

    return Handler
