"""`make run`'s demo on real parts: the bundled clip, learned from the bundled normal footage
with the default stage 1 (pixel, velocity, and the object model on the real default detector),
watched as a looping camera.

What a new user must see: each pass over the clip opens one incident when the cart drives in (not
on the cart-free first seconds) and closes it when the pass ends, and the incident's key frame is
one of the cart's frames, chosen among scores that are not all equal at the top.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.pipeline import REPO_ROOT, Pipeline, wait_until
from tests.support.real_models import exported

pytestmark = pytest.mark.integration

DEMO = REPO_ROOT / "demo" / "footage"
LABELS = json.loads((DEMO / "ped2_test_04.labels.json").read_text())
PASS_FRAMES = LABELS["frames"]
CART_FIRST, CART_LAST = LABELS["anomalous_frames"][0]
EARLIEST_OPEN = CART_FIRST - 5  # the cart is at the edge of the view a few frames before


@pytest.fixture
def demo_models(pipeline: Pipeline) -> Path:
    """The models `make run` installs (`vad models ensure`), in this test's model folder."""
    model_dir = Path(pipeline.env["VAD_MODEL_DIR"])
    exported("ssd-mobilenetv2-oidv4", model_dir)  # the appearance model is off by default
    return model_dir


# The demo runs on the embedded broker (`make run`'s); the Kafka parametrization would repeat a
# long run whose incidents do not depend on the broker.
@pytest.mark.embedded_broker_only("the demo's incidents do not depend on the broker")
def test_demo_opens_one_incident_per_pass_when_the_cart_enters(pipeline: Pipeline, demo_models):
    clip = DEMO / "ped2_test_04.mp4"
    added = pipeline.vad("camera", "add", "demo", str(clip), "--loop")
    assert added.returncode == 0, added.stderr
    learned = pipeline.vad("camera", "learn", "demo", "--from", str(DEMO / "normal"), timeout=1200)
    assert learned.returncode == 0, learned.stdout + learned.stderr
    assert "object model (" in learned.stdout and "appearance model: off" in learned.stdout
    camera_id = pipeline.scalar("SELECT id FROM cameras WHERE name='demo'")
    pipeline.start("dispatcher", "dispatcher")
    pipeline.start("worker", "worker", "--name", "w1")
    ingest = pipeline.start("ingest", "ingest")
    wait_until(
        lambda: (
            pipeline.scalar(
                "SELECT count(*) FROM incidents WHERE camera_id=:c AND status='closed'", c=camera_id
            )
            >= 2
        ),
        600,
        lambda: "two passes' incidents closed\n" + pipeline.logs(),
    )
    ingest.terminate()
    incidents = pipeline.rows(
        "SELECT i.id, i.status, i.peak_score, i.key_frame IS NOT NULL AS has_key_frame, "
        "(SELECT f.frame_index FROM frame_scores f WHERE f.camera_id = i.camera_id "
        "  ORDER BY abs(extract(epoch FROM f.captured_at - i.started_at)) LIMIT 1) AS start_frame, "
        "(SELECT f.frame_index FROM frame_scores f WHERE f.camera_id = i.camera_id "
        "  AND f.kafka_offset = i.peak_offset ORDER BY f.frame_index LIMIT 1) AS peak_frame "
        "FROM incidents i WHERE i.camera_id=:c ORDER BY i.id",
        c=camera_id,
    )
    print("incidents (id, status, peak, key frame, opening frame, peak frame):", incidents)
    closed = [i for i in incidents if i.status == "closed"]
    passes = [i.start_frame // PASS_FRAMES for i in closed]
    assert len(passes) == len(set(passes)), f"more than one incident in a pass: {incidents}"
    assert sorted(passes) == list(range(min(passes), min(passes) + len(passes))), incidents
    for incident in closed:
        start = incident.start_frame % PASS_FRAMES
        peak = incident.peak_frame % PASS_FRAMES
        assert start >= EARLIEST_OPEN, f"opened before the cart entered: {incident}"
        assert CART_FIRST <= peak <= CART_LAST, f"key frame without the cart: {incident}"
        assert incident.has_key_frame
    for p in passes:
        top = pipeline.scalar(
            "SELECT count(DISTINCT round(score::numeric, 4)) FROM (SELECT score FROM frame_scores"
            " WHERE camera_id=:c AND frame_index >= :a AND frame_index < :b AND score IS NOT NULL"
            " ORDER BY score DESC LIMIT 10) top",
            c=camera_id,
            a=p * PASS_FRAMES,
            b=(p + 1) * PASS_FRAMES,
        )
        assert top >= 5, f"pass {p}: the top scores are saturated (all equal)"
