"""`vad up` / `vad run` say what scores every frame, and announce incidents as they change."""

from __future__ import annotations

from service.commands.pipeline import stage1_summary
from vad.encoders.registry import StageStatus


def stages(**on: bool) -> list[StageStatus]:
    names = ("embeddings", "zero-shot", "detector", "appearance")
    return [StageStatus(n, "m", on.get(n.replace("-", "_"), False), "r") for n in names]


def test_full_stage1_names_the_pixel_model_and_both_companions():
    line = stage1_summary(stages(detector=True, appearance=True))
    assert line.startswith("pixel + velocity normality models of each camera")
    assert line.endswith("fused with detector + appearance")


def test_without_the_velocity_model_the_pixel_model_is_named_alone():
    line = stage1_summary(stages(detector=True), velocity=False)
    assert line.startswith("pixel normality model of each camera")


def test_embeddings_are_stored_not_scored():
    assert "embeddings" not in stage1_summary(stages(embeddings=True, zero_shot=True))
    assert stage1_summary(stages(zero_shot=True)).endswith("fused with zero-shot")


def test_without_encoders_the_pixel_model_scores_alone():
    assert stage1_summary(stages()).endswith(" only")


def test_a_new_incident_is_announced_when_it_opens_and_when_it_closes():
    from service.commands.pipeline import incident_news

    assert incident_news(None, "open", first_poll=False) == "OPENED"
    assert incident_news("open", "open", first_poll=False) is None
    assert incident_news("open", "closed", first_poll=False) == "CLOSED"
    assert incident_news(None, "closed", first_poll=False) == "CLOSED"  # opened and closed in 1 s


def test_incidents_of_an_earlier_run_are_not_announced_as_new():
    from service.commands.pipeline import incident_news

    assert incident_news(None, "open", first_poll=True) == "STILL OPEN"
    assert incident_news(None, "closed", first_poll=True) is None


def test_a_model_learned_before_the_encoders_were_installed_is_learned_again():
    from service.commands.pipeline import missing_companions
    from service.settings import Settings

    settings = Settings()
    full = stages(detector=True, appearance=True)
    pixel_only = {"frames_seen": 270}
    assert missing_companions(pixel_only, full, settings) == ["object", "appearance"]
    complete = {"object_model": {}, "appearance_model": {}}
    assert missing_companions(complete, full, settings) == []
    assert missing_companions(pixel_only, stages(), settings) == []  # nothing installed: keep it
    no_objects = Settings(objects={"enabled": False})
    assert missing_companions(pixel_only, full, no_objects) == ["appearance"]
