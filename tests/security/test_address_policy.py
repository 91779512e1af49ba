"""Issue 16, high/medium: one outbound address policy for cameras and webhooks, checked on the
resolved address at connect time; status and delivery errors shown to read tokens are generic."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from db import camera_queries
from db.session import transaction
from ingest.sources import POLICY_REASON, SourceError, VideoSource
from service.settings import Settings
from tests.support.mjpeg import free_port
from vad.address_policy import AddressDenied, AddressPolicy, camera_policy, webhook_policy
from webhooks.delivery import post

METADATA = ["169.254.169.254", "::ffff:169.254.169.254", "fd00:ec2::254", "fe80::1"]


def settings(**security) -> Settings:
    return Settings(_env_file=None, security=security)


@pytest.mark.parametrize("address", METADATA)
def test_link_local_and_metadata_are_denied_even_when_allowlisted(address):
    policy = camera_policy(settings(allowlist=["0.0.0.0/0", "::/0"], camera_allow_loopback=True))
    with pytest.raises(AddressDenied):
        policy.check_ip(address, 80)


@pytest.mark.parametrize(
    "host", ["2130706433", "localhost", "127.1", "0.0.0.0", "::ffff:127.0.0.1"]
)
def test_loopback_in_any_spelling_is_denied_by_default(host):
    for policy in (camera_policy(settings()), webhook_policy(settings())):
        with pytest.raises(AddressDenied):
            policy.check_host(host, 6379)


def test_defaults_cameras_private_ok_webhooks_private_denied():
    camera_policy(settings()).check_ip("10.1.2.3", 554)
    camera_policy(settings()).check_ip("192.168.1.20", 554)
    with pytest.raises(AddressDenied):
        webhook_policy(settings()).check_ip("10.1.2.3", 443)
    webhook_policy(settings()).check_ip("93.184.216.34", 443)


def test_allowlist_opens_loopback_but_never_the_services_own_ports():
    config = settings(allowlist=["127.0.0.1/32"])
    camera_policy(config).check_host("127.0.0.1", 8554)
    for port in (config.api_port, config.embedded_redis_port, config.embedded_kafka_port):
        with pytest.raises(AddressDenied, match="own"):
            camera_policy(config).check_host("127.0.0.1", port)


def test_policy_connects_only_to_checked_addresses():
    with pytest.raises(AddressDenied):
        AddressPolicy.build(allow_private=False, allow_loopback=False).create_connection(
            ("localhost", free_port()), timeout=1
        )


class Receiver:
    """A local HTTP server answering every request with `status` (and `location`)."""

    def __init__(self, status: int = 200, location: str | None = None) -> None:
        self.hits = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                receiver.hits += 1
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            do_GET = do_POST = _answer  # noqa: N815

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_webhook_post_to_loopback_is_blocked_at_connect_with_a_generic_error():
    receiver = Receiver()
    try:
        url = f"http://localhost:{receiver.port}/hook"
        result = post(url, b"{}", {}, 2.0, webhook_policy(settings()))
        assert not result.ok and result.error == "blocked by the webhook address policy"
        assert receiver.hits == 0
        allowed = webhook_policy(settings(allowlist=["127.0.0.1/32"]))
        assert post(url, b"{}", {}, 2.0, allowed).ok and receiver.hits == 1
    finally:
        receiver.close()


def test_camera_source_is_blocked_before_ffmpeg_connects():
    receiver = Receiver()
    try:
        source = VideoSource(
            f"http://127.0.0.1:{receiver.port}/video", policy=camera_policy(settings())
        )
        with pytest.raises(SourceError) as refused:
            source.open()
        assert refused.value.reason == POLICY_REASON and not refused.value.retryable
        assert receiver.hits == 0
    finally:
        receiver.close()


def test_camera_redirect_is_not_followed():
    receiver = Receiver(302, "http://169.254.169.254/latest/meta-data/")
    try:
        policy = camera_policy(settings(allowlist=["127.0.0.1/32"]))
        source = VideoSource(f"http://127.0.0.1:{receiver.port}/video", policy=policy)
        with pytest.raises(SourceError, match="redirects"):
            source.open()
    finally:
        receiver.close()


# --- through the API (real database) --------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/",
        "http://2130706433:6379/",
        "http://localhost:6379/",
        "http://10.1.2.3/hook",
    ],
)
def test_api_refuses_webhooks_the_policy_denies(make_api, url):
    api = make_api(allowlist=[])
    response = api.send("POST", "/webhooks", json={"url": url})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "url"


@pytest.mark.integration
def test_api_refuses_metadata_and_its_own_port_as_a_camera(make_api):
    api = make_api(allowlist=["127.0.0.1/32"])
    port = api.settings.api_port
    for url in ("http://169.254.169.254/video", f"http://127.0.0.1:{port}/cameras"):
        response = api.send("POST", "/cameras", json={"name": "probe", "url": url})
        assert response.status_code == 422, (url, response.text)


@pytest.mark.integration
def test_status_reason_is_generic_for_read_tokens(api):
    detail = "not a video stream (Content-Type application/json)"
    with transaction(api.pipeline.sessions) as session:
        camera = camera_queries.add_camera(session, "probe", "http://10.0.0.9/x", None, False)
        camera.status, camera.status_reason = "offline", detail
    assert api.get("/cameras/probe", token="admin").json()["status_reason"] == detail
    shown = api.get("/cameras/probe", token="read").json()["status_reason"]
    assert "Content-Type" not in shown and "json" not in shown
    assert "Content-Type" not in api.get("/cameras", token="read").text


def test_rtsp_camera_redirect_is_not_followed():
    """An RTSP server answering DESCRIBE with 302 to the metadata service."""
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    port = server.getsockname()[1]

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.recv(4096)
                conn.sendall(
                    b"RTSP/1.0 302 Moved\r\nCSeq: 1\r\nLocation: rtsp://169.254.169.254/x\r\n\r\n"
                )

    threading.Thread(target=serve, daemon=True).start()
    try:
        policy = camera_policy(settings(allowlist=["127.0.0.1/32"]))
        with pytest.raises(SourceError, match="redirects"):
            VideoSource(f"rtsp://127.0.0.1:{port}/cam", policy=policy).open()
    finally:
        server.close()
