"""`vad up` / `vad run` say in one line what scores every frame: is the full stage 1 on?"""

from __future__ import annotations

from service.commands.pipeline import stage1_summary
from vad.encoders.registry import StageStatus


def stages(**on: bool) -> list[StageStatus]:
    names = ("embeddings", "zero-shot", "detector", "appearance")
    return [StageStatus(n, "m", on.get(n.replace("-", "_"), False), "r") for n in names]


def test_full_stage1_names_the_pixel_model_and_both_companions():
    line = stage1_summary(stages(detector=True, appearance=True))
    assert line.startswith("pixel normality model")
    assert line.endswith("fused with detector + appearance")


def test_embeddings_are_stored_not_scored():
    assert "embeddings" not in stage1_summary(stages(embeddings=True, zero_shot=True))
    assert stage1_summary(stages(zero_shot=True)).endswith("fused with zero-shot")


def test_without_encoders_the_pixel_model_scores_alone():
    assert stage1_summary(stages()).endswith(" only")
