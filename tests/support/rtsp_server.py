"""A real RTSP test camera: serves one MP4 in an endless, real-time loop on 127.0.0.1.

Run with the system interpreter (PyGObject is not in the venv):

    /usr/bin/python3 tests/support/rtsp_server.py --port 8554 --mount /cam FILE.mp4
    /usr/bin/python3 tests/support/rtsp_server.py --port 8554 --mount /a A.mp4 --mount /b B.mp4

Several mounts (one per file, in order) make one process serve many cameras, as the load
benchmark does.

The file is decoded once into memory and pushed into an `appsrc` by a paced thread, then
re-encoded with x264 (zero latency, a keyframe every second). Looping in-memory frames instead of
seeking the demuxer avoids the usual SEGMENT_DONE / timestamp-reset pitfalls of looped RTSP media:
timestamps only ever grow, so clients see one endless live stream. The media is shared, so several
clients watch the same feed, like a real camera. Prints READY on stdout once listening; all logs go
to stderr.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

ENCODE = (
    "videoconvert ! video/x-raw,format=I420 "
    "! x264enc tune=zerolatency speed-preset=ultrafast bframes=0 key-int-max={gop} "
    "! video/x-h264,profile=baseline ! rtph264pay name=pay0 pt=96 config-interval=-1"
)


def log(message: str) -> None:
    print(f"rtsp_server: {message}", file=sys.stderr, flush=True)


def decode_file(path: str) -> tuple[list[Gst.Buffer], Gst.Caps, float]:
    """Decode every frame once: a few hundred small frames fit in memory and loop seamlessly."""
    pipeline = Gst.parse_launch(
        f'filesrc location="{path}" ! decodebin ! videoconvert ! video/x-raw,format=I420 '
        "! appsink name=sink sync=false max-buffers=0"
    )
    sink = pipeline.get_by_name("sink")
    pipeline.set_state(Gst.State.PLAYING)
    buffers: list[Gst.Buffer] = []
    caps = None
    while True:
        sample = sink.emit("pull-sample")
        if sample is None:
            break
        caps = caps or sample.get_caps()
        buffers.append(sample.get_buffer())
    pipeline.set_state(Gst.State.NULL)
    if not buffers or caps is None:
        raise SystemExit(f"rtsp_server: no video frames decoded from {path}")
    ok, num, den = caps.get_structure(0).get_fraction("framerate")
    fps = num / den if ok and num > 0 and den > 0 else 10.0
    return buffers, caps, fps


class Feeder:
    """Pushes the frames into one media's appsrc at the file's frame rate, forever."""

    def __init__(self, appsrc: Gst.Element, buffers: list[Gst.Buffer], fps: float) -> None:
        self.appsrc = appsrc
        self.buffers = buffers
        self.period = 1.0 / fps
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        start = time.monotonic()
        n = 0
        while not self.stopped.is_set():
            buf = self.buffers[n % len(self.buffers)].copy()
            buf.duration = int(self.period * Gst.SECOND)
            if self.appsrc.emit("push-buffer", buf) != Gst.FlowReturn.OK:
                break  # media is shutting down
            n += 1
            delay = start + n * self.period - time.monotonic()
            if delay > 0:
                self.stopped.wait(delay)


class LoopingFactory(GstRtspServer.RTSPMediaFactory):
    """Shared factory whose media reads from an in-memory, endlessly looping frame list."""

    def __init__(self, buffers: list[Gst.Buffer], caps: Gst.Caps, fps: float) -> None:
        super().__init__()
        self.buffers = buffers
        self.fps = fps
        gop = max(1, round(fps))
        caps_text = caps.to_string()
        source = f'appsrc name=src is-live=true format=time do-timestamp=true caps="{caps_text}"'
        self.set_launch(f"( {source} ! {ENCODE.format(gop=gop)} )")
        self.set_shared(True)
        self.connect("media-configure", self.on_media_configure)

    def on_media_configure(self, _factory, media: GstRtspServer.RTSPMedia) -> None:
        appsrc = media.get_element().get_by_name_recurse_up("src")
        feeder = Feeder(appsrc, self.buffers, self.fps)
        media.connect("unprepared", lambda *_: feeder.stopped.set())
        feeder.thread.start()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mount", action="append", help="one per file (default /cam)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("file", nargs="+")
    args = parser.parse_args()
    mounts = args.mount or ["/cam"]
    if len(mounts) != len(args.file):
        parser.error("give one --mount per file")

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.host)
    server.set_service(str(args.port))
    decoded: dict[str, tuple[list[Gst.Buffer], Gst.Caps, float]] = {}
    for mount, path in zip(mounts, args.file, strict=True):
        if path not in decoded:  # mounts replaying the same file share its decoded frames
            decoded[path] = decode_file(path)
            log(f"{len(decoded[path][0])} frames at {decoded[path][2]:g} fps from {path}")
        server.get_mount_points().add_factory(mount, LoopingFactory(*decoded[path]))
    if server.attach(None) == 0:
        log(f"cannot listen on {args.host}:{args.port}")
        return 1

    loop = GLib.MainLoop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, loop.quit)
    print("READY", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
