"""Camera sources read with OpenCV/FFmpeg: RTSP, MJPEG over HTTP and local video files.

Two promises drive the design. Every failure surfaces as a `SourceError` with a short, human
reason (the camera status shown to operators), and no call blocks much longer than its timeout: a
frozen camera must never stall its ingest thread. FFmpeg's own timeouts do most of the work;
network opens and reads additionally run under a watchdog thread, so even a read stuck somewhere
FFmpeg's interrupt callback does not reach gives up on time.
"""

from __future__ import annotations

import base64
import http.client
import logging
import math
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import SplitResult, urlsplit, urlunsplit
from urllib.request import url2pathname

import cv2
import numpy as np

from vad.address_policy import AddressDenied, AddressPolicy
from vad.urls import redact_url

__all__ = [
    "SourceError",
    "SourceFrame",
    "VideoSource",
    "backoff_delays",
    "validate_source_url",
]

NETWORK_SCHEMES = ("rtsp", "rtsps", "http", "https")
POLICY_REASON = "address not allowed by the camera address policy (security.allowlist)"
_DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "http": 80, "https": 443}
_OPTIONS_ENV = "OPENCV_FFMPEG_CAPTURE_OPTIONS"
_WATCHDOG_GRACE = 1.5  # seconds past FFmpeg's own timeout before the watchdog gives up
_REDIRECT_PROBE_SECONDS = 2.0  # at most this long asking a camera whether it redirects
_T = TypeVar("_T")
log = logging.getLogger(__name__)


class SourceError(Exception):
    """A camera could not be opened or read.

    `reason` is short text for the camera status ("connection refused", "no frame for 5.0 s");
    `retryable` is False when retrying the same URL cannot help until someone changes it
    (unsupported scheme, not a video file), so the caller can stop instead of backing off forever.
    """

    def __init__(self, reason: str, *, retryable: bool = True, url: str | None = None) -> None:
        super().__init__(f"{redact_url(url)}: {reason}" if url else reason)
        self.reason = reason
        self.retryable = retryable


@dataclass(frozen=True, slots=True)
class SourceFrame:
    """One decoded frame as it comes off the source.

    `pts` is media time in seconds since the stream start: the container's timestamps for files
    (growing across loops), a monotonic clock since `open()` for live streams, whose own timestamps
    are arbitrary and jump on reconnects. `image` is BGR uint8 (H, W, 3). `starts_pass` marks
    the first frame of a looping file's pass after a rewind: the picture jumps back, so what
    follows is a new stream, not a continuation of the last frame.
    """

    index: int
    pts: float
    image: np.ndarray
    starts_pass: bool = False


def backoff_delays(initial: float = 0.5, maximum: float = 30.0) -> Iterator[float]:
    """Reconnect delays: `initial`, doubled after each failure, capped at `maximum`, forever."""
    if initial <= 0 or maximum <= 0:
        raise ValueError("backoff delays must be positive")
    delay = min(initial, maximum)
    while True:
        yield delay
        delay = min(delay * 2, maximum)


def is_network_url(url: str) -> bool:
    return urlsplit(url.strip()).scheme.lower() in NETWORK_SCHEMES


def validate_source_url(
    url: str,
    *,
    policy: AddressPolicy | None = None,
    media_dir: Path | None = None,
    any_file: bool = True,
) -> str:
    """Check a camera URL before it is stored, and return it normalized.

    Network URLs are checked for form, and, when the host resolves now, against `policy` (the
    camera may be offline; the policy is checked again at every connect). Local files (plain
    paths or file://) must exist and open as video; unless `any_file` (a local user at the
    CLI), they must also be under `media_dir`, and a file outside it gets the same answer
    whether it exists or not. Raises ValueError saying what is wrong.
    """
    normalized = _normalize(url)
    if is_network_url(normalized):
        if policy is not None:
            check_source_address(normalized, policy)
        return normalized
    path = Path(normalized)
    if not any_file and not _inside(path, media_dir):
        raise ValueError(
            "file cameras must be video files under the media folder (security.media_dir)"
            + ("" if media_dir else ", which is not configured")
        )
    if not path.is_file():
        raise ValueError(f"no such video file: {path}")
    if not _decodes_a_frame(path):
        raise ValueError(f"not a video file: {path}")
    return normalized


def check_source_address(url: str, policy: AddressPolicy) -> None:
    """ValueError when the URL's host resolves to an address `policy` denies; a host that does
    not resolve now passes (it is checked at connect time)."""
    parts = urlsplit(url)
    port = parts.port or _DEFAULT_PORTS[parts.scheme.lower()]
    try:
        policy.check_host(parts.hostname or "", port)
    except AddressDenied as denied:
        raise ValueError(f"camera address not allowed: {denied}") from None
    except OSError:
        return


def _inside(path: Path, folder: Path | None) -> bool:
    """True when `path` (symlinks resolved) is inside `folder`."""
    if folder is None:
        return False
    try:
        return path.resolve().is_relative_to(folder.expanduser().resolve())
    except (OSError, ValueError):
        return False


def _normalize(url: str) -> str:
    """Lower-case network schemes; turn file URLs and relative paths into absolute paths."""
    text = url.strip()
    if not text:
        raise ValueError("empty source URL")
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme in NETWORK_SCHEMES:
        return _normalize_network(parts, text)
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"file URL must point at this machine: {text!r}")
        return _absolute(Path(url2pathname(parts.path)))
    if len(scheme) > 1:  # one letter is a Windows drive, not a scheme
        raise ValueError(
            f"unsupported source scheme {scheme!r} in {redact_url(text)!r}: use rtsp://, "
            "rtsps://, http:// or https:// (MJPEG), or a local video file path"
        )
    return _absolute(Path(text))


def _absolute(path: Path) -> str:
    """Absolute, normalized, but symlinks kept: the camera shows the path its user gave."""
    return os.path.abspath(path.expanduser())


def _normalize_network(parts: SplitResult, text: str) -> str:
    if not parts.hostname:
        raise ValueError(f"missing host in source URL {redact_url(text)!r}")
    try:
        parts.port  # noqa: B018 - property access validates the port
    except ValueError:
        raise ValueError(f"invalid port in source URL {redact_url(text)!r}") from None
    return urlunsplit(parts._replace(scheme=parts.scheme.lower()))


def _decodes_a_frame(path: Path) -> bool:
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        return bool(cap.isOpened() and not _is_text_art(path, cap) and cap.read()[0])
    finally:
        cap.release()


# FFmpeg's tty/bintext demuxers "play" text files as ANSI art, chosen by extension.
_TEXT_ART_SUFFIXES = {".ans", ".art", ".asc", ".diz", ".ice", ".nfo", ".txt", ".vt", ".bin"}
_TEXT_ART_SUFFIXES |= {".adf", ".idf", ".xb"}


def _is_text_art(path: Path, cap: cv2.VideoCapture) -> bool:
    """True for text files FFmpeg renders as video: a camera source is never one of those."""
    fourcc = (int(cap.get(cv2.CAP_PROP_FOURCC)) & 0xFFFFFFFF).to_bytes(4, "little")
    return fourcc == b"ansi" or path.suffix.lower() in _TEXT_ART_SUFFIXES


def _sane_fps(value: float) -> float | None:
    """FFmpeg reports 0, NaN or a timebase like 90000 when it does not know the frame rate."""
    return value if math.isfinite(value) and 0 < value <= 240 else None


class VideoSource:
    """Reads frames from one camera URL or video file.

    `loop` replays a file from frame 0 at its end, with `index` and `pts` still growing; the
    first frame of each new pass has `starts_pass` set.
    `start_index` is the index of the first frame: files seek there (resuming after a restart),
    live streams just number their frames from it so indices stay unique across reconnects.
    After a SourceError the source is closed; `open()` it again (after a backoff) to reconnect.
    Not thread-safe: one source belongs to one ingest thread.
    """

    def __init__(
        self,
        url: str,
        *,
        loop: bool = False,
        open_timeout: float = 5.0,
        read_timeout: float = 5.0,
        start_index: int = 0,
        policy: AddressPolicy | None = None,
        verify_tls: bool = True,
    ) -> None:
        """`policy` is checked on the resolved address before every connect (None: no check,
        for tools and tests that open a URL their user typed); `verify_tls` checks rtsps and
        https certificates."""
        if open_timeout <= 0 or read_timeout <= 0:
            raise ValueError("timeouts must be positive")
        if start_index < 0:
            raise ValueError("start_index must be >= 0")
        self.url = url
        self.loop = loop
        self.open_timeout = open_timeout
        self.read_timeout = read_timeout
        self.policy = policy
        self.verify_tls = verify_tls
        self._next_index = start_index
        self._cap: cv2.VideoCapture | None = None
        self._fps: float | None = None
        self._opened_at = 0.0
        self._file = _FileState()

    def __repr__(self) -> str:
        return f"VideoSource({redact_url(self.url)!r}, loop={self.loop})"

    def __enter__(self) -> VideoSource:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def is_file(self) -> bool:
        return not is_network_url(self.url)

    @property
    def is_open(self) -> bool:
        return self._cap is not None

    @property
    def fps(self) -> float | None:
        """Native frame rate as reported by the container or stream, None if unknown."""
        return self._fps

    @property
    def next_index(self) -> int:
        """Index the next frame will get: where to resume after this source is gone."""
        return self._next_index

    # --- open / close ---------------------------------------------------------------------------

    def open(self) -> None:
        """Connect (or reopen a file at `next_index`); raises SourceError."""
        self.close()
        try:
            target = _normalize(self.url)
        except ValueError as error:
            raise SourceError(str(error), retryable=False) from None
        if is_network_url(target):
            self._cap = self._open_stream(target)
        else:
            self._cap = self._open_file(Path(target))
        self._opened_at = time.monotonic()

    def close(self) -> None:
        cap, self._cap = self._cap, None
        if cap is not None:
            cap.release()

    def _open_stream(self, url: str) -> cv2.VideoCapture:
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(self.open_timeout * 1000),
            cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(self.read_timeout * 1000),
        ]  # fmt: skip
        options = _ffmpeg_options(url, self.read_timeout, self.verify_tls)
        if self.policy is not None:
            self._check_destination(url)

        def connect() -> cv2.VideoCapture:
            with _capture_options(options):
                return cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)

        started = time.monotonic()
        try:
            cap = _call_with_deadline(connect, self.open_timeout + _WATCHDOG_GRACE, _release)
        except TimeoutError:
            raise SourceError(f"open timed out after {self.open_timeout:.1f} s", url=url) from None
        if cap.isOpened():
            # MJPEG over HTTP carries no timing; FFmpeg then reports its default guess of 25.
            http = urlsplit(url).scheme.lower().startswith("http")
            self._fps = None if http else _sane_fps(cap.get(cv2.CAP_PROP_FPS))
            return cap
        cap.release()
        if time.monotonic() - started >= self.open_timeout:
            raise SourceError(f"open timed out after {self.open_timeout:.1f} s", url=url)
        reason, retryable = _diagnose(url, self.open_timeout, self.policy, self.verify_tls)
        raise SourceError(reason, retryable=retryable, url=url)

    def _check_destination(self, url: str) -> None:
        """The address policy on the host's resolved addresses. FFmpeg follows HTTP and RTSP
        redirects without asking, so where it would be sent is unchecked: a camera that
        redirects is refused (its final URL must be given)."""
        parts = urlsplit(url)
        port = parts.port or _DEFAULT_PORTS[parts.scheme.lower()]
        try:
            self.policy.check_host(parts.hostname or "", port)
        except AddressDenied as denied:
            log.warning("camera %s blocked: %s", redact_url(url), denied)
            raise SourceError(POLICY_REASON, retryable=False, url=url) from None
        except OSError:
            return  # not resolvable: FFmpeg fails on its own and _diagnose says why
        scheme = parts.scheme.lower()
        if scheme == "rtsps":  # its redirect would only be visible inside TLS
            return
        budget = min(self.open_timeout, _REDIRECT_PROBE_SECONDS)
        try:
            redirect = _call_with_deadline(
                lambda: self._redirect_status(url, scheme, budget), budget + 0.5, lambda _: None
            )
        except TimeoutError:
            redirect = None  # a slow camera: FFmpeg's own open says what is wrong
        if redirect:
            raise SourceError(
                f"the camera redirects ({scheme.upper()} {redirect}); give its final URL",
                retryable=False,
            )

    def _redirect_status(self, url: str, scheme: str, timeout: float) -> int | None:
        if scheme == "rtsp":
            return _rtsp_redirect(url, timeout, self.policy)
        return _http_redirect(url, timeout, self.policy, self.verify_tls)

    def _open_file(self, path: Path) -> cv2.VideoCapture:
        if not path.is_file():
            raise SourceError(f"no such file: {path}", retryable=False)
        cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
        if not cap.isOpened() or _is_text_art(path, cap):
            cap.release()
            raise SourceError(f"not a video file: {path}", retryable=False)
        self._fps = _sane_fps(cap.get(cv2.CAP_PROP_FPS))
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self._file.seek(cap, self._next_index, count if count > 0 else None, self._fps, self.loop)
        return cap

    # --- reading --------------------------------------------------------------------------------

    def read(self) -> SourceFrame | None:
        """The next frame; None at the end of a non-looping file. Raises SourceError."""
        if self._cap is None:
            raise SourceError("source is not open", url=self.url)
        if self.is_file:
            return self._read_file()
        return self._read_stream()

    def _read_stream(self) -> SourceFrame:
        cap = self._cap
        started = time.monotonic()
        try:
            ok, image = _call_with_deadline(
                cap.read, self.read_timeout + _WATCHDOG_GRACE, lambda _: cap.release()
            )
        except TimeoutError:
            self._cap = None  # still blocked in FFmpeg; its thread releases it when it returns
            raise SourceError(f"no frame for {self.read_timeout:.1f} s", url=self.url) from None
        elapsed = time.monotonic() - started
        # A read that only returns after the timeout hands out a frame FFmpeg flushed from its
        # decoder after the connection stalled: the stream is frozen even though ok is True.
        if ok and image is not None and elapsed < self.read_timeout:
            return self._emit(time.monotonic() - self._opened_at, image)
        self.close()
        if elapsed >= self.read_timeout:
            raise SourceError(f"no frame for {self.read_timeout:.1f} s", url=self.url)
        raise SourceError("stream ended (connection closed by the camera)", url=self.url)

    def _read_file(self) -> SourceFrame | None:
        state = self._file
        if state.ended:
            return None
        ok, image = self._cap.read()
        if not ok:
            if not self.loop or state.frames_in_pass == 0:
                state.ended = True
                return None
            self._rewind()
            ok, image = self._cap.read()
            if not ok:
                raise SourceError("cannot read frames after rewinding", url=self.url)
            return self._emit(state.pts_of(self._cap, self._fps), image, starts_pass=True)
        return self._emit(state.pts_of(self._cap, self._fps), image)

    def _rewind(self) -> None:
        """Reopen at frame 0: more reliable than seeking a decoder that already hit EOF."""
        self._file.next_pass(self._fps)
        self._cap.release()
        self._cap = cv2.VideoCapture(str(Path(_normalize(self.url))), cv2.CAP_FFMPEG)

    def _emit(self, pts: float, image: np.ndarray, starts_pass: bool = False) -> SourceFrame:
        frame = SourceFrame(self._next_index, pts, image, starts_pass)
        self._next_index += 1
        return frame


class _FileState:
    """Where a file source is: pass offset for looping and the last pts, kept monotonic."""

    def __init__(self) -> None:
        self.offset = 0.0  # media seconds of the passes already played
        self.last_pts = -math.inf
        self.frames_in_pass = 0
        self.ended = False

    def seek(
        self, cap: cv2.VideoCapture, index: int, count: int | None, fps: float | None, loop: bool
    ) -> None:
        """Position a freshly opened file so that its next frame has `index`."""
        self.frames_in_pass = 0
        self.ended = False
        position = index
        if count is not None and index >= count:
            if not loop:
                self.ended = True
                return
            passes, position = divmod(index, count)
            self.offset = passes * count / fps if fps else 0.0
        if position > 0:
            cap.set(cv2.CAP_PROP_POS_FRAMES, position)
            self.frames_in_pass = 1  # a rewind is meaningful even if the seek landed at the end

    def next_pass(self, fps: float | None) -> None:
        self.offset = self.last_pts + (1.0 / fps if fps else 0.04)
        self.frames_in_pass = 0

    def pts_of(self, cap: cv2.VideoCapture, fps: float | None) -> float:
        """Container time of the frame just read, shifted by earlier passes, never going back."""
        position_ms = cap.get(cv2.CAP_PROP_POS_MSEC)
        position = int(cap.get(cv2.CAP_PROP_POS_FRAMES)) - 1
        if math.isfinite(position_ms) and (position_ms > 0 or position <= 0):
            pts = self.offset + position_ms / 1000.0
        else:
            pts = self.offset + max(position, 0) / (fps or 25.0)
        if pts <= self.last_pts:
            pts = self.last_pts + (1.0 / fps if fps else 0.04)
        self.last_pts = pts
        self.frames_in_pass += 1
        return pts


# --- FFmpeg options and watchdog ----------------------------------------------------------------


def _ffmpeg_options(url: str, read_timeout: float, verify_tls: bool = True) -> str:
    """FFmpeg demuxer options for one network URL (`key;value|key;value`, OpenCV's format).

    `timeout` is FFmpeg's socket I/O timeout in microseconds; RTSP over TCP because UDP is often
    blocked and loses packets. Small probe settings keep opens fast. MJPEG gets a larger probe
    size so one big JPEG still fits in it.
    """
    timeout = f"timeout;{int(read_timeout * 1_000_000)}"
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("rtsps", "https") and verify_tls:
        cafile = ssl.get_default_verify_paths().cafile
        timeout += "|tls_verify;1" + (f"|ca_file;{cafile}" if cafile else "")
    if scheme.startswith("rtsp"):
        return f"rtsp_transport;tcp|analyzeduration;200000|probesize;32768|{timeout}"
    return f"analyzeduration;200000|probesize;2000000|{timeout}"


class _SharedEnv:
    """Sets OPENCV_FFMPEG_CAPTURE_OPTIONS around opens, shared by opens that want the same value.

    OpenCV reads the variable inside `VideoCapture()`, and the environment is process-wide, so two
    threads opening with different options would race. Opens with equal options (the normal case:
    every camera has the same settings) proceed together; different ones wait their turn.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._cond = threading.Condition()
        self._value: str | None = None
        self._users = 0
        self._saved: str | None = None

    @contextmanager
    def __call__(self, value: str) -> Iterator[None]:
        self._acquire(value)
        try:
            yield
        finally:
            self._release()

    def _acquire(self, value: str) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self._users == 0 or self._value == value)
            if self._users == 0:
                self._saved = os.environ.get(self.name)
                os.environ[self.name] = value
                self._value = value
            self._users += 1

    def _release(self) -> None:
        with self._cond:
            self._users -= 1
            if self._users:
                return
            if self._saved is None:
                os.environ.pop(self.name, None)
            else:
                os.environ[self.name] = self._saved
            self._value = None
            self._cond.notify_all()


_capture_options = _SharedEnv(_OPTIONS_ENV)


def _release(cap: cv2.VideoCapture | None) -> None:
    if cap is not None:
        cap.release()


def _call_with_deadline(
    fn: Callable[[], _T], timeout: float, on_late: Callable[[_T | None], None]
) -> _T:
    """Run `fn` in a daemon thread; raise TimeoutError if it has not returned after `timeout`.

    The thread cannot be killed, so a result that arrives after the caller gave up is handed to
    `on_late` (to release the capture) instead of leaking.
    """
    box: dict[str, object] = {}
    lock = threading.Lock()
    done = threading.Event()

    def run() -> None:
        try:
            result, error = fn(), None
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            result, error = None, exc
        with lock:
            box.update(result=result, error=error)
            late = box.get("abandoned", False)
        done.set()
        if late:
            on_late(result)

    threading.Thread(target=run, name="vad-source-io", daemon=True).start()
    done.wait(timeout)
    with lock:
        if "result" not in box:
            box["abandoned"] = True
            raise TimeoutError
    if box["error"] is not None:
        raise box["error"]
    return box["result"]


# --- failure diagnosis --------------------------------------------------------------------------


def _diagnose(
    url: str, timeout: float, policy: AddressPolicy | None = None, verify_tls: bool = True
) -> tuple[str, bool]:
    """Why FFmpeg could not open `url`, as (reason, retryable).

    OpenCV only reports failure, not FFmpeg's error, so we repeat the first steps ourselves:
    resolve, connect, and ask the server for the stream. Bounded by the watchdog like the open.
    """
    try:
        reason, retryable = _call_with_deadline(
            lambda: _probe(url, timeout, policy, verify_tls), timeout + 1.0, lambda _: None
        )
    except TimeoutError:
        return f"no answer within {timeout:.1f} s", True
    log.info("camera %s: %s", redact_url(url), reason)
    return reason, retryable


def _probe(
    url: str, timeout: float, policy: AddressPolicy | None, verify_tls: bool
) -> tuple[str, bool]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or _DEFAULT_PORTS[scheme]
    try:
        socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return f"host not found: {parts.hostname}", True
    connect = policy.create_connection if policy is not None else socket.create_connection
    try:
        with connect((parts.hostname, port), timeout=timeout) as sock:
            if scheme == "rtsp":
                return _probe_rtsp(sock, url, timeout)
    except AddressDenied:
        return POLICY_REASON, False
    except ConnectionRefusedError:
        return "connection refused", True
    except TimeoutError:
        return "connection timed out", True
    except OSError as error:
        return (error.strerror or str(error)).lower(), True
    if scheme in ("http", "https"):
        return _probe_http(url, timeout, policy, verify_tls)
    return "cannot open stream (FFmpeg failed after connecting)", True


def _rtsp_status(sock: socket.socket, url: str, timeout: float) -> list[str]:
    """The status line of a DESCRIBE of `url` (without its credentials), split in three."""
    parts = urlsplit(url)
    plain = urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1]))
    sock.settimeout(timeout)
    sock.sendall(
        f"DESCRIBE {plain} RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\n"
        "User-Agent: vad-ingest\r\n\r\n".encode()
    )
    return sock.recv(4096).split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)


def _rtsp_redirect(url: str, timeout: float, policy: AddressPolicy) -> int | None:
    """The 3xx status when the RTSP server redirects (FFmpeg would follow it), else None."""
    parts = urlsplit(url)
    try:
        with policy.create_connection((parts.hostname, parts.port or 554), timeout) as sock:
            status = _rtsp_status(sock, url, timeout)
    except (OSError, AddressDenied, UnicodeError):
        return None
    code = status[1] if len(status) > 1 and status[0].startswith("RTSP/") else ""
    return int(code) if code.isdigit() and 300 <= int(code) < 400 else None


def _probe_rtsp(sock: socket.socket, url: str, timeout: float) -> tuple[str, bool]:
    status = _rtsp_status(sock, url, timeout)
    if len(status) < 2 or not status[0].startswith("RTSP/"):
        return "not an RTSP server", False
    return _status_reason("RTSP", status[1], status[2] if len(status) > 2 else "")


def _http_connection(
    url: str, timeout: float, policy: AddressPolicy | None, verify_tls: bool
) -> http.client.HTTPConnection:
    """A connection to the URL's host, through `policy`, verifying certificates if asked."""
    parts = urlsplit(url)
    if parts.scheme.lower() == "https":
        context = ssl.create_default_context() if verify_tls else ssl._create_unverified_context()
        conn = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=timeout, context=context
        )
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    if policy is not None:
        conn._create_connection = policy.create_connection
    return conn


def _http_get(
    url: str, timeout: float, policy: AddressPolicy | None, verify_tls: bool
) -> http.client.HTTPResponse:
    """Status line and headers of GET `url` (never following a redirect); the body unread."""
    parts = urlsplit(url)
    conn = _http_connection(url, timeout, policy, verify_tls)
    try:
        headers = {"User-Agent": "vad-ingest"}
        if parts.username is not None:
            token = f"{parts.username}:{parts.password or ''}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(token).decode()
        conn.request(
            "GET", urlunsplit(("", "", parts.path or "/", parts.query, "")), headers=headers
        )
        return conn.getresponse()
    finally:
        conn.close()


def _http_redirect(
    url: str, timeout: float, policy: AddressPolicy | None, verify_tls: bool
) -> int | None:
    """The 3xx status when the camera redirects, else None (errors are FFmpeg's to report)."""
    try:
        status = _http_get(url, timeout, policy, verify_tls).status
    except (OSError, http.client.HTTPException, AddressDenied):
        return None
    return status if 300 <= status < 400 else None


def _probe_http(
    url: str, timeout: float, policy: AddressPolicy | None = None, verify_tls: bool = True
) -> tuple[str, bool]:
    try:
        response = _http_get(url, timeout, policy, verify_tls)
    except AddressDenied:
        return POLICY_REASON, False
    except ssl.SSLCertVerificationError:
        return "TLS certificate not trusted (or turn verify_tls off for this camera)", False
    except (OSError, http.client.HTTPException):
        return "HTTP request failed", True
    if response.status != 200:
        return _status_reason("HTTP", str(response.status), response.reason)
    return "not a video stream", True


def _status_reason(protocol: str, code: str, text: str) -> tuple[str, bool]:
    if code in ("401", "403"):
        return f"authentication failed ({protocol} {code})", False
    if code == "404":
        return f"stream not found ({protocol} 404)", True
    if code.startswith("2"):
        return "cannot open stream (server answered, FFmpeg could not decode it)", True
    return f"server error ({protocol} {code} {text.strip()})".strip(), True
