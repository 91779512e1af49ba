"""Which incident events ask for stage 2, and that nothing is asked while it is off."""

from __future__ import annotations

import logging

from vad.config import Settings
from workers import stage2_gate
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


def test_sender_survives_a_broker_outage():
    class Down:
        def send_task(self, *args, **kwargs):
            raise ConnectionError("redis down")

    stage2_gate.celery_stage2_sender(Down())([1, 2])  # logged; the sweeper re-sends
