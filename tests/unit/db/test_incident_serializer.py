"""One incident serializer for the API, the webhook payload and the CLI: each audience's output
is exactly what it was before the three hand-written dicts were merged (literal goldens)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from api.schemas import IncidentOut
from db.incident_serializer import API, CLI, FIELDS, WEBHOOK, serialize_incident
from db.models import Incident
from webhooks.delivery import event_body


def _incident(**changes) -> Incident:
    fields = dict(
        id=42,
        camera_id=3,
        status="closed",
        started_at=datetime(2026, 1, 1, 0, 0, 1, 123456, tzinfo=UTC),
        ended_at=datetime(2026, 1, 1, 0, 0, 9, tzinfo=UTC),
        peak_score=0.912345678,
        peak_at=datetime(2026, 1, 1, 0, 0, 5, 500000, tzinfo=UTC),
        threshold=0.6,
        scorer="normality",
        rule="normality score smoothed",
        fired="velocity: fast",
        key_frame=b"\xff\xd8jpeg",
        fused_score=0.7654321,
        explanation="A cart crosses.",
        zones=["walkway"],
        updated_at=datetime(2026, 1, 1, 0, 0, 9, tzinfo=UTC),
        last_window_seq=7,
    )
    return Incident(**{**fields, **changes})


CLOSED = _incident()
OPEN = _incident(
    status="open",
    ended_at=None,
    key_frame=None,
    fused_score=None,
    explanation=None,
    fired=None,
    zones=None,
)

API_JSON = {
    "closed": '{"id":42,"camera":"gate","status":"closed",'
    '"started_at":"2026-01-01T00:00:01.123456Z","ended_at":"2026-01-01T00:00:09Z","peak_score":0.912345678,'
    '"peak_at":"2026-01-01T00:00:05.500000Z","threshold":0.6,"scorer":"normality",'
    '"rule":"normality score smoothed","key_frame_url":"/incidents/42/key-frame.jpg",'
    '"fused_score":0.7654321,"explanation":"A cart crosses.","zones":["walkway"]}',
    "open": '{"id":42,"camera":"gate","status":"open","started_at":"2026-01-01T00:00:01.123456Z",'
    '"ended_at":null,"peak_score":0.912345678,"peak_at":"2026-01-01T00:00:05.500000Z",'
    '"threshold":0.6,"scorer":"normality","rule":"normality score smoothed","key_frame_url":null,'
    '"fused_score":null,"explanation":null,"zones":null}',
}
WEBHOOK_BODY = {
    "closed": '{"id":"42:incident.closed:7","type":"incident.closed",'
    '"created_at":"2026-01-01T00:00:09+00:00","incident":{"id":42,"camera":"gate",'
    '"status":"closed","started_at":"2026-01-01T00:00:01.123456+00:00",'
    '"ended_at":"2026-01-01T00:00:09+00:00","peak_score":0.9123,'
    '"peak_at":"2026-01-01T00:00:05.500000+00:00","threshold":0.6,"scorer":"normality",'
    '"rule":"normality score smoothed","zones":["walkway"],'
    '"key_frame_url":"/incidents/42/key-frame.jpg",'
    '"fused_score":0.7654321,"explanation":"A cart crosses."}}',
    "open": '{"id":"42:incident.closed:7","type":"incident.closed",'
    '"created_at":"2026-01-01T00:00:09+00:00","incident":{"id":42,"camera":"gate",'
    '"status":"open","started_at":"2026-01-01T00:00:01.123456+00:00","ended_at":null,'
    '"peak_score":0.9123,"peak_at":"2026-01-01T00:00:05.500000+00:00","threshold":0.6,'
    '"scorer":"normality","rule":"normality score smoothed","zones":null,'
    '"key_frame_url":"/incidents/42/key-frame.jpg","fused_score":null,"explanation":null}}',
}
CLI_DICT = {
    "closed": {
        "id": 42,
        "camera": "gate",
        "status": "closed",
        "started_at": "2026-01-01T00:00:01.123456+00:00",
        "ended_at": "2026-01-01T00:00:09+00:00",
        "peak_score": 0.9123,
        "peak_at": "2026-01-01T00:00:05.500000+00:00",
        "scorer": "normality",
        "rule": "normality score smoothed",
        "fired": "velocity: fast",
        "zones": ["walkway"],
        "has_key_frame": True,
        "fused_score": 0.7654,
        "explanation": "A cart crosses.",
    },
    "open": {
        "id": 42,
        "camera": "gate",
        "status": "open",
        "started_at": "2026-01-01T00:00:01.123456+00:00",
        "ended_at": None,
        "peak_score": 0.9123,
        "peak_at": "2026-01-01T00:00:05.500000+00:00",
        "scorer": "normality",
        "rule": "normality score smoothed",
        "fired": None,
        "zones": None,
        "has_key_frame": False,
        "fused_score": None,
        "explanation": None,
    },
}
CASES = [("closed", CLOSED), ("open", OPEN)]


@pytest.mark.parametrize(("name", "incident"), CASES)
def test_api_output_is_unchanged(name: str, incident: Incident) -> None:
    fields = serialize_incident(incident, "gate", API, incident.key_frame is not None)
    assert IncidentOut(**fields).model_dump_json() == API_JSON[name]


@pytest.mark.parametrize(("name", "incident"), CASES)
def test_webhook_body_is_unchanged_byte_for_byte(name: str, incident: Incident) -> None:
    assert event_body("incident.closed", incident, "gate") == WEBHOOK_BODY[name]


@pytest.mark.parametrize(("name", "incident"), CASES)
def test_cli_output_is_unchanged_and_keeps_its_key_order(name: str, incident: Incident) -> None:
    shown = serialize_incident(incident, "gate", CLI)
    assert json.dumps(shown) == json.dumps(CLI_DICT[name])


def test_every_view_shows_fields_in_the_one_order() -> None:
    for view in (API, WEBHOOK, CLI):
        assert list(view.fields) == [f for f in FIELDS if f in view.fields]
