"""`vad run` learns a camera that has no model from footage (the demo's first run): it calls the
learning in code, not the `vad camera learn` command, whose typer options are not None there."""

from __future__ import annotations

import pytest
import typer
from typer.core import TyperCommand

from service.commands.pipeline import _learn_if_missing
from service.context import AppContext
from tests.support.pipeline import REPO_ROOT, Pipeline

pytestmark = pytest.mark.integration

NORMAL = REPO_ROOT / "demo" / "footage" / "normal" / "ped2_train_01.mp4"


@pytest.mark.embedded_broker_only("learning reads footage files, not the log")
def test_vad_run_learns_a_camera_without_a_model(pipeline: Pipeline, tmp_path) -> None:
    added = pipeline.vad("camera", "add", "demo", str(NORMAL), "--loop")
    assert added.returncode == 0, added.stderr
    settings = pipeline.settings.model_copy(update={"model_dir": tmp_path / "models"})
    camera_id = pipeline.scalar("SELECT id FROM cameras WHERE name = 'demo'")
    ctx = typer.Context(TyperCommand("vad"), obj=AppContext(settings, pipeline.sessions))
    _learn_if_missing(ctx, pipeline.sessions, "demo", camera_id, NORMAL, settings)
    versions = pipeline.scalar(
        "SELECT count(*) FROM normality_models m JOIN cameras c ON c.id = m.camera_id "
        "WHERE c.name = 'demo'"
    )
    assert versions == 1
