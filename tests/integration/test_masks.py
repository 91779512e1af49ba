"""Masks and zones (issue 20, item 1) on the real database: the API (admin writes, read token
reads, bad polygons get a 422 naming the problem), the CLI, and the worker on real Ped2 frames
with a burned-in clock: the masked clock is invisible to stage 1 and to zones, the incident lists
the zones it touched, webhooks and search filter by zone."""

from __future__ import annotations

import json
from collections.abc import Iterator

import cv2
import pytest
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.tokens import create_token
from db import camera_queries, clock, regions, window_queries
from db.api_models import WebhookDelivery, WebhookSubscription
from db.models import FrameScore, Incident, Window
from db.search import Filters, text_ranking
from db.session import transaction
from frames.reader import LogRecord
from frames.record import FrameMeta
from service.commands import camera as camera_commands
from service.commands.incidents import incidents as incidents_command
from service.context import AppContext
from vad.codec import encode_jpeg
from workers.tasks import WindowScorer, WindowTask

pytestmark = [
    pytest.mark.integration,
    pytest.mark.embedded_broker_only("database-only: frames come from an in-memory log"),
]

T0 = 1_767_225_600.0
FPS = 10
PER_WINDOW = 10
CORNER = [[0, 0], [0.4, 0], [0.4, 0.22], [0, 0.22]]
EVERYWHERE = [[0, 0], [1, 0], [1, 1], [0, 1]]


def closed_incident(
    camera_id: int,
    second: int,
    seq: int = 0,
    key_frame: bytes | None = None,
    zones: list[str] | None = None,
) -> Incident:
    """A closed incident `second` s after T0, peaking at once over a 0.5 threshold, on window
    `seq`; `zones` None = the camera had none."""
    at = clock.utc(T0 + second)
    return Incident(
        camera_id=camera_id,
        status="closed",
        started_at=at,
        peak_score=0.9,
        peak_at=at,
        threshold=0.5,
        first_window_seq=seq,
        last_window_seq=seq,
        key_frame=key_frame,
        zones=zones,
    )


def _tokens(pipeline) -> tuple[dict, dict]:
    with transaction(pipeline.sessions) as session:
        admin = create_token(session, "ops", "admin")
        viewer = create_token(session, "viewer", "read")
        camera_queries.add_camera(session, "gate", "rtsp://10.0.0.1/a", None, False)
    return {"Authorization": f"Bearer {admin}"}, {"Authorization": f"Bearer {viewer}"}


def test_masks_and_zones_through_the_api(pipeline) -> None:
    admin, viewer = _tokens(pipeline)
    client = TestClient(create_app(pipeline.settings, pipeline.sessions))
    url = "/cameras/gate/masks"

    assert client.post(url, json={"points": CORNER}, headers=viewer).status_code == 403
    created = client.post(url, json={"points": CORNER}, headers=admin)
    assert created.status_code == 201, created.text
    mask = created.json()
    assert mask["kind"] == "mask" and mask["zone"] is None and mask["points"] == CORNER
    assert [m["id"] for m in client.get(url, headers=viewer).json()] == [mask["id"]]

    for points, message in [
        ([[0, 0], [1, 1]], "at least 3 points"),
        ([[0, 0], [1, 0], [1, 2]], "outside the view"),
        ([[0, 0], [0.5, 0.5], [1, 1]], "no area"),
        ([[0, 0], [1, 0], "x"], "[x, y] pair"),
        ([[0, 0]] * 65, "at most 64"),
    ]:
        bad = client.post(url, json={"points": points}, headers=admin)
        assert bad.status_code == 422, bad.text
        error = bad.json()["errors"][0]
        assert error["field"] == "points" and message in error["message"], error
    infinite = client.post(
        url,
        content='{"points": [[0, 0], [1, 0], [Infinity, 1]]}',
        headers={**admin, "Content-Type": "application/json"},
    )
    assert infinite.status_code == 422
    assert client.post(url, json={"points": CORNER, "x": 1}, headers=admin).status_code == 422
    assert (
        client.post("/cameras/nope/masks", json={"points": CORNER}, headers=admin).status_code
        == 404
    )

    zones = "/cameras/gate/zones"
    road = client.post(zones, json={"name": " road ", "points": EVERYWHERE}, headers=admin)
    assert road.status_code == 201 and road.json()["zone"] == "road"
    assert (
        client.post(zones, json={"name": "road", "points": CORNER}, headers=admin).status_code
        == 201
    )
    assert (
        client.post(zones, json={"name": "   ", "points": CORNER}, headers=admin).status_code == 422
    )
    assert client.post(zones, json={"points": CORNER}, headers=admin).status_code == 422
    listed = client.get(zones, headers=viewer).json()
    assert [z["zone"] for z in listed] == ["road", "road"]

    # at most 32 polygons of a kind per camera: the 33rd is refused, nothing else changes
    for _ in range(31):
        assert client.post(url, json={"points": CORNER}, headers=admin).status_code == 201
    full = client.post(url, json={"points": CORNER}, headers=admin)
    assert full.status_code == 409 and "at most 32" in full.text
    assert len(client.get(url, headers=viewer).json()) == 32

    assert client.delete(f"{url}/{mask['id']}", headers=viewer).status_code == 403
    assert client.delete(f"{url}/{mask['id']}", headers=admin).status_code == 204
    assert client.delete(f"{url}/{mask['id']}", headers=admin).status_code == 404
    assert client.delete(url, headers=admin).status_code == 204
    assert client.get(url, headers=viewer).json() == []
    assert client.delete(f"{zones}/{listed[0]['id']}", headers=admin).status_code == 204
    assert len(client.get(zones, headers=viewer).json()) == 1

    # the view they are drawn on: the latest incident's key frame
    assert client.get("/cameras/gate/key-frame.jpg", headers=viewer).status_code == 404
    with transaction(pipeline.sessions) as session:
        camera = camera_queries.get_camera(session, "gate")
        for i, jpeg in enumerate((b"old", b"new")):
            session.add(closed_incident(camera.id, i, key_frame=jpeg, zones=["road"]))
    frame = client.get("/cameras/gate/key-frame.jpg", headers=viewer)
    assert frame.status_code == 200 and frame.content == b"new"
    assert frame.headers["content-type"] == "image/jpeg"
    listed_incidents = client.get("/incidents", headers=viewer).json()["items"]
    assert listed_incidents[0]["zones"] == ["road"]

    # the incident list and search filter by zone (names read as they are stored: trimmed)
    with transaction(pipeline.sessions) as session:
        session.get(Incident, listed_incidents[1]["id"]).zones = ["yard", "road"]
    for zone, expected in [("road", 2), (" yard ", 1), ("nowhere", 0)]:
        page = client.get("/incidents", params={"zone": zone}, headers=viewer).json()
        assert page["total"] == len(page["items"]) == expected, (zone, page)
    assert (
        client.get("/incidents", params={"zone": "yard"}, headers=viewer).json()["items"][0]["id"]
        == listed_incidents[1]["id"]
    )
    for url_path, params in [("/incidents", {}), ("/search", {"q": "a person"})]:
        for zone in ("  ", "a\x00b", "x" * 61):
            bad = client.get(url_path, params={**params, "zone": zone}, headers=viewer)
            assert bad.status_code == 422, (url_path, zone, bad.text)
            assert bad.json()["errors"][0]["field"] == "zone"

    # webhooks take a zone filter
    hook = client.post(
        "/webhooks",
        json={"url": "http://127.0.0.1:9/h", "zones": ["road", " road"]},
        headers=admin,
    )
    assert hook.status_code == 201 and hook.json()["zones"] == ["road"], hook.text
    patched = client.patch(
        f"/webhooks/{hook.json()['id']}",
        json={"zones": ["yard"], "events": ["incident.opened"]},
        headers=admin,
    )
    assert patched.json()["zones"] == ["yard"]
    bad_zone = client.post(
        "/webhooks", json={"url": "http://127.0.0.1:9/h", "zones": [""]}, headers=admin
    )
    assert bad_zone.status_code == 422 and bad_zone.json()["errors"][0]["field"] == "zones"


def test_masks_and_zones_through_the_cli(pipeline) -> None:
    root = typer.Typer()
    root.add_typer(camera_commands.app, name="camera")
    root.command("incidents")(incidents_command)

    @root.callback()
    def main(ctx: typer.Context) -> None:
        ctx.obj = AppContext(pipeline.settings)

    with transaction(pipeline.sessions) as session:
        camera_queries.add_camera(session, "gate", "rtsp://10.0.0.1/a", None, False)
    run = CliRunner().invoke

    added = run(root, ["camera", "mask", "gate", "--add", "0,0 0.4,0 0.4,0.22 0,0.22"])
    assert added.exit_code == 0, added.output
    assert "0.4,0.22" in added.stdout
    bad = run(root, ["camera", "mask", "gate", "--add", "0,0 1,0 1,1.5"])
    assert bad.exit_code == 2 and "outside the view" in bad.output
    bad = run(root, ["camera", "mask", "gate", "--add", "0,0 1,0"])
    assert bad.exit_code == 2 and "at least 3 points" in bad.output
    listed = run(root, ["camera", "mask", "gate", "--list"])
    assert listed.stdout.count("#") == 1
    mask_id = pipeline.scalar("SELECT id FROM camera_regions WHERE kind = 'mask'")
    assert run(root, ["camera", "mask", "gate", "--remove", "999"]).exit_code == 2
    removed = run(root, ["camera", "mask", "gate", "--remove", str(mask_id)])
    assert removed.exit_code == 0 and "(none)" in removed.stdout

    assert run(root, ["camera", "zone", "gate", "--add", "0,0 1,0 1,1"]).exit_code == 2
    zone = run(
        root, ["camera", "zone", "gate", "door", "--add", "0,0 1,0 1,1", "--add", "0,0 0,1 1,1"]
    )
    assert zone.exit_code == 0 and zone.stdout.count("door") == 2, zone.output
    run(root, ["camera", "zone", "gate", "yard", "--add", "0,0 0.5,0 0.5,0.5"])
    cleared = run(root, ["camera", "zone", "gate", "door", "--clear"])
    assert "door" not in cleared.stdout and "yard" in cleared.stdout
    assert run(root, ["camera", "zone", "gate", "nope", "--clear"]).exit_code == 2
    assert run(root, ["camera", "mask", "nope"]).exit_code == 2

    # `vad incidents --zone`: only incidents that touched the zone
    with transaction(pipeline.sessions) as session:
        camera = camera_queries.get_camera(session, "gate")
        for i, zones in enumerate((["yard"], ["door", "yard"], None)):
            session.add(closed_incident(camera.id, i, seq=i, zones=zones))
    yard = run(root, ["incidents", "--zone", " yard"])
    assert yard.exit_code == 0 and yard.stdout.count("zones") == 2, yard.output
    door = run(root, ["incidents", "--zone", "door", "--json"])
    assert [i["zones"] for i in json.loads(door.stdout)] == [["door", "yard"]]
    assert run(root, ["incidents", "--zone", "nope"]).stdout.strip() == "no incidents"
    blank = run(root, ["incidents", "--zone", " "])
    assert blank.exit_code == 2 and "needs a name" in blank.output


class MemoryLog:
    """FrameReader's interface over records kept in memory."""

    def __init__(self) -> None:
        self.records: dict[int, LogRecord] = {}

    def iter_range(
        self, topic: str, partition: int, first: int, last: int, timeout: float = 15.0
    ) -> Iterator[LogRecord]:
        return iter([self.records[o] for o in range(first, last + 1) if o in self.records])


def _clocked(frame, i: int):
    stamped = frame.copy()
    cv2.rectangle(stamped, (0, 0), (130, 40), (0, 0, 0), -1)
    text = f"12:{i // 10:02d}:{i % 10}{(i * 7) % 10}"
    cv2.putText(stamped, text, (4, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2)
    return stamped


def _camera_with_clock(session, log, name: str, base: int, frames, masked: bool) -> int:
    camera = camera_queries.add_camera(session, name, "file.mp4", FPS, False, enabled=False)
    camera.threshold = 0.0  # every frame counts: the zones are those of all frames
    session.flush()

    if masked:
        regions.add_region(session, camera.id, "mask", tuple(map(tuple, CORNER)))
    regions.add_region(session, camera.id, "zone", tuple(map(tuple, CORNER)), "clock")
    regions.add_region(session, camera.id, "zone", tuple(map(tuple, EVERYWHERE)), "walkway")
    for w in range(len(frames) // PER_WINDOW):
        first = base + w * PER_WINDOW
        for i in range(first, first + PER_WINDOW):
            meta = FrameMeta(camera.id, i - base, T0 + (i - base) / FPS, T0 + (i - base) / FPS)
            jpeg = encode_jpeg(_clocked(frames[i - base], i - base))
            log.records[i] = LogRecord(i, camera.id, jpeg, meta.to_headers())
        window_queries.insert_window(
            session, camera_id=camera.id, topic="t", topic_id="tid", partition=0,
            first_offset=first, last_offset=first + PER_WINDOW - 1,
            context_offset=first - 4 if w else None, n_frames=PER_WINDOW,
            start_at=T0 + (first - base) / FPS, end_at=T0 + (first - base + PER_WINDOW - 1) / FPS,
            end_of_stream=w == len(frames) // PER_WINDOW - 1,
        )  # fmt: skip
    return camera.id


def test_worker_hides_the_masked_clock_and_incidents_name_their_zones(pipeline, ped2, tmp_path):
    capture = cv2.VideoCapture(str(ped2 / "test" / "test_04.mp4"))
    frames = [capture.read()[1] for _ in range(30)]
    capture.release()
    settings = pipeline.settings.model_copy(
        update={
            "model_dir": tmp_path / "models",
            "encoders": pipeline.settings.encoders.model_copy(update={"enabled": False}),
        }
    )
    log = MemoryLog()
    with transaction(pipeline.sessions) as session:
        masked = _camera_with_clock(session, log, "masked", 0, frames, True)
        plain = _camera_with_clock(session, log, "plain", 1000, frames, False)
        for zones in (["clock"], ["walkway"], None):
            session.add(
                WebhookSubscription(
                    url="http://127.0.0.1:9/h",
                    secret="s" * 32,
                    cameras=None,
                    min_score=None,
                    zones=zones,
                    events=["incident.opened"],
                    enabled=True,
                )  # fmt: skip
            )
    scorer = WindowScorer(settings, pipeline.sessions, log)
    with pipeline.sessions() as session:
        windows = session.query(Window).order_by(Window.camera_id, Window.seq).all()
    for window in windows:
        assert scorer.run(WindowTask.of(window)) == "scored"

    with pipeline.sessions() as session:
        by_camera = {i.camera_id: i for i in session.query(Incident).order_by(Incident.id).all()}
        located = session.query(FrameScore).filter(FrameScore.camera_id == masked).all()
        deliveries = {
            (d.incident_id, tuple(session.get(WebhookSubscription, d.subscription_id).zones or ()))
            for d in session.query(WebhookDelivery).all()
        }
        assert all(f.zones is not None for f in located)
        assert not any("clock" in f.zones for f in located)  # frozen: no change there
        assert sum("walkway" in f.zones for f in located) >= len(located) - 1  # people walk
        assert by_camera[masked].zones == ["walkway"]
        assert by_camera[plain].zones == ["clock", "walkway"]
        assert by_camera[masked].status == "closed"

        hit = by_camera[masked].id, by_camera[plain].id
        assert deliveries == {
            (hit[0], ("walkway",)),
            (hit[0], ()),
            (hit[1], ("clock",)),
            (hit[1], ("walkway",)),
            (hit[1], ()),
        }
        assert set(text_ranking(session, "motion", Filters(zone="clock"), 10)) == {hit[1]}
        assert set(text_ranking(session, "motion", Filters(zone="walkway"), 10)) == set(hit)
        assert text_ranking(session, "motion", Filters(zone="nowhere"), 10) == []
