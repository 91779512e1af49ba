"""Property-based requests generated from the app's own OpenAPI document (schemathesis), sent
in-process through the ASGI transport to an app on a real PostgreSQL: no operation may answer 5xx.

Both valid (positive) and invalid (negative) requests are generated, with an admin token, so the
mutating routes run too. The database is seeded with a camera, an incident with a key frame and a
webhook subscription with a delivery, so path lookups sometimes hit real rows. The app gets a real
FrameReader (the session's embedded Kafka) so neither clip export nor the Kafka-lag metric takes
its "not configured" branch. Bounded: a few examples per operation and mode, no shrinking beyond
the first failure's report.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import hypothesis
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode

from api.app import create_app
from api.tokens import create_token
from db import camera_queries
from db.api_models import WebhookSubscription
from db.models import DispatchProgress, Incident
from db.session import transaction
from frames.reader import FrameReader
from webhooks.delivery import enqueue_incident_event

pytestmark = pytest.mark.integration

MAX_EXAMPLES = 25
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def seed(pipeline) -> None:
    with transaction(pipeline.sessions) as session:
        camera = camera_queries.add_camera(session, "lobby", "rtsp://10.0.0.1/lobby", None, False)
        session.add(
            WebhookSubscription(
                url="http://127.0.0.1:9/hook",
                secret="whsec_test",
                cameras=None,
                min_score=None,
                events=["incident.opened"],
                enabled=True,
            )
        )
        incident = Incident(
            camera_id=camera.id,
            status="closed",
            started_at=T0,
            ended_at=T0 + timedelta(minutes=1),
            peak_score=0.9,
            peak_at=T0,
            threshold=0.6,
            scorer="motion",
            rule="motion >= 0.6",
            first_window_seq=0,
            last_window_seq=0,
            key_frame=b"\xff\xd8\xff\xd9",
            updated_at=T0,
        )
        session.add(incident)
        session.flush()
        enqueue_incident_event(session, "incident.opened", incident)
        session.add(
            DispatchProgress(
                topic_id="t",
                partition=0,
                topic=pipeline.settings.kafka_topic,
                position=0,
                camera_last={},
                camera_context={},
            )
        )


def test_no_operation_answers_5xx(pipeline):
    seed(pipeline)
    with transaction(pipeline.sessions) as session:
        token = create_token(session, "fuzz-admin", "admin")
    auth = {"Authorization": f"Bearer {token}"}
    reader = FrameReader(pipeline.endpoints.kafka_bootstrap)
    app = create_app(pipeline.settings, pipeline.sessions, frame_reader=reader)
    try:
        schema = schemathesis.openapi.from_asgi("/openapi.json", app, headers=auth)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 10, [op.label for op in operations]
        failures: list[str] = []
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                try:
                    _fuzz(operation, mode, auth)
                except Exception as error:  # noqa: BLE001 - report every failing operation
                    failures.append(f"{operation.label} ({mode.value}): {error}")
        labels = {op.label for op in operations}
        assert {"GET /incidents", "GET /metrics", "POST /cameras"} <= labels
        assert not failures, "\n\n".join(failures)
    finally:
        reader.close()


def _fuzz(operation, mode: GenerationMode, auth: dict) -> None:
    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case) -> None:
        case.call_and_validate(headers=auth, checks=[not_a_server_error])

    try:
        run()
    except Unsatisfiable:
        # Nothing to make invalid (no parameters or body): negative mode has no cases.
        if mode is not GenerationMode.NEGATIVE:
            raise


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "field"),
    [
        ("GET", "/incidents/99999999999999999999", {}, 422, "incident_id"),
        ("GET", "/incidents/99999999999999999999/key-frame.jpg", {}, 422, "incident_id"),
        ("GET", "/webhooks/3000000000", {}, 422, "webhook_id"),
        ("GET", "/webhooks/1/deliveries?offset=99999999999999999999", {}, 422, "offset"),
        ("GET", "/incidents?offset=99999999999999999999", {}, 422, "offset"),
        ("GET", "/incidents?text=a%00b", {}, 422, "text"),
        ("GET", "/incidents?camera=a%00b", {}, 422, "camera"),
        (
            "POST",
            "/webhooks",
            {"json": {"url": "http://a.test/", "description": "\x00"}},
            422,
            "description",
        ),
        ("PATCH", "/webhooks/1", {"json": {"cameras": ["a\x00"]}}, 422, "cameras"),
        ("GET", "/cameras/a%00b", {}, 404, None),
    ],
)
def test_inputs_schemathesis_found_are_4xx(pipeline, method, path, kwargs, status, field):
    """Regressions: each of these answered 500 (a database error) before."""
    with transaction(pipeline.sessions) as session:
        token = create_token(session, "admin", "admin")
    client = TestClient(
        create_app(pipeline.settings, pipeline.sessions), raise_server_exceptions=False
    )
    response = client.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)
    assert response.status_code == status, response.text
    if field:
        assert response.json()["errors"][0]["field"] == field
