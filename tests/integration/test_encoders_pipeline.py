"""The real worker with tiny exported encoders: every scored frame gets exactly one embedding,
detection row and zero-shot row; frame scores are the fused scores; incidents say what fired.
Without models the same pipeline runs on stage 1 alone and says how to enable the rest."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.pipeline import Pipeline

# The broker only carries the frames: the worker reads a window's frames back from it
# (frames.window.read_window_frames) and hands the same decoded frames to every encoder stage,
# whichever broker served them; learning reads the training file directly. That path (replay ->
# broker -> dispatcher -> worker -> key frame) runs on both brokers in test_pipeline.py,
# test_learn_replay.py and test_bad_input.py; here the Kafka parametrization would repeat these
# ~4 minutes unchanged.
pytestmark = [
    pytest.mark.integration,
    pytest.mark.embedded_broker_only("the encoders see the same frames from either broker"),
]


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> tuple[Path, Path, Path]:
    """(CLIP, YOLO, MobileNetV2) exported folders."""
    from tests.support.tiny_models import (
        need_export_extra,
        tiny_clip_dir,
        tiny_mobilenet_dir,
        tiny_yolo_dir,
    )

    need_export_extra("torch", "transformers", "ultralytics")
    folder = tmp_path_factory.mktemp("models")
    return tiny_clip_dir(folder), tiny_yolo_dir(folder), tiny_mobilenet_dir(folder)


def test_worker_embeds_detects_and_fuses_every_kept_frame(
    pipeline: Pipeline, ped2, tiny_models, real_ssd_dir
):
    model_dir = Path(pipeline.env["VAD_MODEL_DIR"])
    shutil.copytree(tiny_models[0], model_dir / "encoders" / "clip-vit-b32")
    default_detector = "ssd-mobilenetv2-oidv4"  # the real one, as `make run` installs it
    shutil.copytree(
        real_ssd_dir / "encoders" / default_detector, model_dir / "encoders" / default_detector
    )
    pipeline.env["VAD_APPEARANCE__ENCODER"] = "clip-vit-b32"  # tiles by CLIP's image tower
    pipeline.env["VAD_APPEARANCE__ENABLED"] = "true"  # off by default (issue 17, object round)
    # the fusion alone, so each stored score is its frame's fused one: the look-ahead averages
    # them afterwards (tests/integration/test_pipeline.py has its own test)
    pipeline.env["VAD_SCORING__LOOK_AHEAD_SECONDS"] = "0"
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
    for incident in pipeline.rows("SELECT rule, fired FROM incidents"):
        assert incident.fired and " | fired: " not in incident.rule
    assert (
        pipeline.scalar(
            "SELECT count(*) FROM frame_scores WHERE score IS NOT NULL AND fired IS NULL"
        )
        == 0
    )
    assert "encoder stage zero-shot: on" in worker.log()
    assert "encoder stage appearance: on (model clip-vit-b32)" in worker.log()
    people = pipeline.scalar(
        "SELECT sum(coalesce((counts->>'person')::int, 0)) FROM frame_detections"
    )
    assert people > scored  # Ped2 test_04 shows several people in every frame


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


def test_learn_fits_object_model_and_worker_fuses_it(pipeline: Pipeline, ped2, tiny_models):
    """`vad camera learn` runs the detector on the training footage and stores an object model
    next to the normality model; the worker scores detections with it, fuses by max and names
    the object in the incident. The random tiny detector only finds class '0' boxes (shared
    label 'other') at confidence ~1e-4, hence the lowered thresholds; to make the object model
    decide, the learned one is then replaced by a model fitted on an empty scene (every object is
    an unseen class, scored 1.0)."""
    from vad.scoring.object_normality import ObjectNormalityModel, fit_object_model

    model_dir = Path(pipeline.env["VAD_MODEL_DIR"])
    installed = model_dir / "encoders" / "yolo11n"
    shutil.copytree(tiny_models[1], installed)
    pipeline.env.update(
        {
            "VAD_ENCODERS__DETECTOR": "yolo11n",
            "VAD_ENCODERS__DETECTOR_CONFIDENCE": "0.0001",
            "VAD_OBJECTS__MIN_CONFIDENCE": "0",
        }
    )
    video = ped2 / "test" / "test_04.mp4"
    training = str(ped2 / "train" / "train_01.mp4")
    assert pipeline.vad("camera", "add", "walkway", str(video), "--disabled").returncode == 0

    good = (installed / "model.onnx").read_bytes()
    (installed / "model.onnx").write_bytes(b"not an onnx graph")
    broken = pipeline.vad("camera", "learn", "walkway", "--from", training, timeout=300)
    assert broken.returncode == 2 and "VAD_OBJECTS__ENABLED=false" in broken.stderr, broken
    assert pipeline.scalar("SELECT count(*) FROM normality_models") == 0  # nothing half-learned
    (installed / "model.onnx").write_bytes(good)

    learned = pipeline.vad("camera", "learn", "walkway", "--from", training, timeout=300)
    assert learned.returncode == 0, learned.stderr
    assert "object model (tiny-yolo): other 240 boxes" in learned.stdout, learned.stdout
    folder = Path(pipeline.scalar("SELECT path FROM normality_models"))
    fitted = ObjectNormalityModel.load(folder)
    assert fitted.detector == "tiny-yolo" and fitted.metadata["frames_seen"] > 100

    config = fitted.config.model_copy(update={"unseen_class_score": 1.0})  # beats every stage-1
    empty_scene = fit_object_model([[[] for _ in range(20)]], "tiny-yolo", config)
    empty_scene.save(folder)
    pipeline.start("dispatcher", "dispatcher")
    pipeline.start("worker", "worker", "--name", "w1")
    replay = pipeline.vad("replay", str(video), "--camera", "walkway", "--fast", timeout=300)
    assert replay.returncode == 0, replay.stderr + replay.stdout + pipeline.logs()

    rows = pipeline.rows(
        "SELECT d.object_score, d.object_fired, s.score FROM frame_detections d "
        "JOIN frame_scores s ON s.window_id = d.window_id AND s.kafka_offset = d.kafka_offset"
    )
    assert rows and all(r.object_score == 1.0 for r in rows)
    assert all(r.score >= r.object_score - 1e-9 for r in rows)
    assert any(r.object_fired for r in rows)
    fired = [r.fired for r in pipeline.rows("SELECT fired FROM incidents")]
    assert fired and all(f.startswith("object model: other (confidence") for f in fired), fired


def test_learn_fits_appearance_model_and_worker_fuses_it(pipeline: Pipeline, ped2, tiny_models):
    """With its encoder installed (MobileNetV2, the default), `vad camera learn` embeds square
    tiles of the training footage and stores an appearance model next to the normality model; the
    worker scores every frame's tiles with it, fuses by max and says which part of the view
    decided. A corrupt encoder fails the learn with the switch that skips it. To make the
    appearance model decide, the learned bank is then turned to the opposite directions (every
    tile is as unlike normal as can be)."""
    import numpy as np

    from vad.scoring.appearance_normality import AppearanceNormalityModel

    model_dir = Path(pipeline.env["VAD_MODEL_DIR"])
    installed = model_dir / "encoders" / "mobilenetv2"
    shutil.copytree(tiny_models[2], installed)
    pipeline.env.update({"VAD_ZERO_SHOT__ENABLED": "false", "VAD_APPEARANCE__ENABLED": "true"})
    video = ped2 / "test" / "test_04.mp4"
    training = str(ped2 / "train" / "train_01.mp4")
    assert pipeline.vad("camera", "add", "walkway", str(video), "--disabled").returncode == 0

    image = next(installed.glob("image*.onnx"))
    good = image.read_bytes()
    image.write_bytes(b"not an onnx graph")
    broken = pipeline.vad("camera", "learn", "walkway", "--from", training, timeout=300)
    assert broken.returncode == 2 and "VAD_APPEARANCE__ENABLED=false" in broken.stderr, broken
    assert pipeline.scalar("SELECT count(*) FROM normality_models") == 0  # nothing half-learned
    image.write_bytes(good)

    learned = pipeline.vad("camera", "learn", "walkway", "--from", training, timeout=300)
    assert learned.returncode == 0, learned.stderr
    assert "appearance model (tiny-mobilenet): 6 tiles (2 rows)" in learned.stdout, learned.stdout
    folder = Path(pipeline.scalar("SELECT path FROM normality_models"))
    fitted = AppearanceNormalityModel.load(folder)
    assert fitted.encoder == "tiny-mobilenet" and fitted.metadata["frames_seen"] >= 50
    assert fitted.bank.shape[0] == 6  # 360x240 Ped2: 2 rows x 3 columns of 120 px tiles

    AppearanceNormalityModel(
        fitted.config,
        fitted.encoder,
        fitted.frame_size,
        -fitted.bank,
        fitted.references,
        fitted.calibrator,
        fitted.metadata,
    ).save(folder)
    pipeline.start("dispatcher", "dispatcher")
    pipeline.start("worker", "worker", "--name", "w1")
    replay = pipeline.vad("replay", str(video), "--camera", "walkway", "--fast", timeout=300)
    assert replay.returncode == 0, replay.stderr + replay.stdout + pipeline.logs()

    rows = pipeline.rows(
        "SELECT a.score AS looks, a.fired, a.reason, s.score FROM frame_appearance a "
        "JOIN frame_scores s ON s.window_id = a.window_id AND s.kafka_offset = a.kafka_offset"
    )
    scored = pipeline.scalar("SELECT count(*) FROM frame_scores WHERE error IS NULL")
    assert len(rows) == scored > 0
    # every tile is far outside the negated bank: past p = 1e-6 of normal footage (0.75 on the
    # calibrated scale; the predictive tail keeps far-out scores below saturation)
    assert all(r.score >= r.looks - 1e-9 and r.looks > 0.75 for r in rows)
    assert any(r.fired for r in rows) and all("of the view looks unlike" in r.reason for r in rows)
    # the appearance term decides the frames where it is the highest (the pixel model, no longer
    # capped, decides where the cart moves), and an incident opens
    fired = [r.fired for r in pipeline.rows("SELECT fired FROM frame_scores WHERE error IS NULL")]
    assert "appearance" in fired, set(fired)
    assert pipeline.scalar("SELECT count(*) FROM incidents") >= 1
    assert np.isfinite(fitted.references).all()


def test_eval_fuses_the_appearance_model_and_reports_the_pixel_figure(ped2, tiny_models, tmp_path):
    """`vad eval ... --appearance` fits the appearance model on the same training clips and
    fuses it by max; without its encoder installed it says what to install instead of falling
    back."""
    import json
    import os
    import subprocess
    import sys

    from vad.encoders.image import ImageEncoder
    from vad.eval import evaluate_ped2
    from vad.eval.runner import Appearance
    from vad.scoring.appearance_normality import AppearanceNormalityConfig
    from vad.scoring.normality import NormalityConfig

    looks = Appearance(ImageEncoder.load(tiny_models[2]), AppearanceNormalityConfig(learn_every=8))
    out = tmp_path / "scores.json"
    result = evaluate_ped2(
        ped2, NormalityConfig(), subset=["test_04"], scores_out=out, appearance=looks, fps=10.0
    )
    assert (
        result["appearance_encoder"] == "tiny-mobilenet" and result["appearance_train_frames"] > 300
    )
    assert result["appearance_fit_seconds"] > 0
    assert 0.0 <= result["pixel_only_auc"] <= 1.0 and 0.0 <= result["auc"] <= 1.0
    assert len(json.loads(out.read_text())["test_04"]) == result["frames"]

    env = {**os.environ, "VAD_MODEL_DIR": str(tmp_path / "no-models")}
    cli = subprocess.run(
        [sys.executable, "-m", "service.cli", "eval", "ped2", "--data", str(ped2), "--appearance"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cli.returncode == 2 and "vad models pull mobilenetv2" in cli.stderr, cli
