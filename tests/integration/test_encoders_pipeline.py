"""The real worker with tiny exported encoders: every scored frame gets exactly one embedding,
detection row and zero-shot row; frame scores are the fused scores; incidents say what fired.
Without models the same pipeline runs on stage 1 alone and says how to enable the rest."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.pipeline import Pipeline

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> tuple[Path, Path]:
    from tests.support.tiny_models import need_export_extra, tiny_clip_dir, tiny_yolo_dir

    need_export_extra("torch", "transformers", "ultralytics")
    folder = tmp_path_factory.mktemp("models")
    return tiny_clip_dir(folder), tiny_yolo_dir(folder)


def test_worker_embeds_detects_and_fuses_every_kept_frame(pipeline: Pipeline, ped2, tiny_models):
    model_dir = Path(pipeline.env["VAD_MODEL_DIR"])
    shutil.copytree(tiny_models[0], model_dir / "encoders" / "clip-vit-b32")
    shutil.copytree(tiny_models[1], model_dir / "encoders" / "yolo11n")
    video = ped2 / "test" / "test_04.mp4"
    assert pipeline.vad("camera", "add", "walkway", str(video), "--disabled").returncode == 0
    rules = pipeline.vad("camera", "rules", "walkway", "--add", "a bicycle among pedestrians")
    assert rules.returncode == 0 and "a bicycle among pedestrians" in rules.stdout, rules.stderr
    listing = pipeline.vad("models", "list")
    assert "zero-shot: on" in listing.stdout and "detector: on" in listing.stdout, listing.stdout

    pipeline.start("dispatcher", "dispatcher")
    worker = pipeline.start("worker", "worker", "--name", "w1")
    replay = pipeline.vad("replay", str(video), "--camera", "walkway", "--fast", timeout=300)
    assert replay.returncode == 0, replay.stderr + replay.stdout + pipeline.logs()

    scored = pipeline.scalar("SELECT count(*) FROM frame_scores WHERE error IS NULL")
    assert scored > 0
    for table in ("frame_embeddings", "frame_detections", "frame_zero_shot"):
        assert pipeline.scalar(f"SELECT count(*) FROM {table}") == scored, table
    mismatched = pipeline.scalar(
        "SELECT count(*) FROM frame_scores s JOIN frame_zero_shot z "
        "ON z.window_id = s.window_id AND z.kafka_offset = s.kafka_offset "
        "WHERE abs(s.score - z.fused) > 1e-9 OR z.fused < coalesce(z.stage1, 0)"
    )
    assert mismatched == 0
    dims = pipeline.rows("SELECT DISTINCT vector_dims(embedding) AS d FROM frame_embeddings")
    assert [r.d for r in dims] == [32]
    for incident in pipeline.rows("SELECT rule FROM incidents"):
        assert " | fired: " in incident.rule
    assert "encoder stage zero-shot: on" in worker.log()


def test_without_models_stage_one_runs_and_says_how_to_enable(pipeline: Pipeline, ped2):
    video = ped2 / "test" / "test_01.mp4"
    assert pipeline.vad("camera", "add", "walkway", str(video), "--disabled").returncode == 0
    pipeline.start("dispatcher", "dispatcher")
    worker = pipeline.start("worker", "worker", "--name", "w1")
    replay = pipeline.vad("replay", str(video), "--camera", "walkway", "--fast", timeout=300)
    assert replay.returncode == 0, replay.stderr + replay.stdout + pipeline.logs()
    assert pipeline.scalar("SELECT count(*) FROM frame_scores") > 0
    assert pipeline.scalar("SELECT count(*) FROM frame_embeddings") == 0
    log = worker.log()
    assert "encoder stage embeddings: off" in log
    assert "vad models pull clip-vit-b32 && vad models export clip-vit-b32" in log
