"""Which incident events ask for stage 2, and that nothing is asked while it is off."""

from __future__ import annotations

import logging

from service.settings import Settings
from workers import stage2_gate
from workers.celery_app import ANALYZE_WINDOW, STAGE2_QUEUE
from workers.stage2_gate import Stage2Gate


def test_off_without_models_and_logs_how_to_enable(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="workers.stage2_gate"):
        assert stage2_gate.stage2_gate(Settings(_env_file=None, model_dir=tmp_path)) is None
    assert "stage 2 is off" in caplog.text and "To enable it" in caplog.text


def test_on_with_endpoints_and_only_opening_or_peaks_request(monkeypatch):
    settings = Settings(
        _env_file=None,
        stage2={"captioner_url": "http://h/v1", "llm_url": "http://h/v1", "max_per_incident": 2},
    )
    gate = stage2_gate.stage2_gate(settings)
    assert isinstance(gate, Stage2Gate) and gate.max_per_incident == 2
    asked = []
    monkeypatch.setattr(
        stage2_gate.s2,
        "request_analysis",
        lambda session, incident, kind, cap: asked.append(kind) or 7,
    )
    for kind in ("incident.opened", "incident.updated", "incident.closed"):
        gate.request(None, kind, object())
    assert asked == ["incident.opened", "incident.updated"]
    assert gate.request(None, "incident.opened", object()) == [7]


def test_sender_survives_a_broker_outage_and_still_sends_the_rest(caplog):
    class Flaky:
        """A broker that is down for request 1 and back for request 2."""

        def __init__(self):
            self.sent = []

        def send_task(self, name, args, queue):
            if args == [1]:
                raise ConnectionError("redis down")
            self.sent.append((name, args, queue))

    broker = Flaky()
    with caplog.at_level(logging.WARNING, logger="workers.stage2_gate"):
        stage2_gate.celery_stage2_sender(broker)([1, 2])
    assert broker.sent == [(ANALYZE_WINDOW, [2], STAGE2_QUEUE)]
    assert "stage-2 request 1 not sent (redis down); the sweeper will" in caplog.text
