"""Normality model end to end on real Ped2 footage (a few videos, one core, < 1 min each)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vad.eval import evaluate_ped2
from vad.scoring.normality import NormalityConfig, fit_normality_model
from vad.video import iter_video_frames

pytestmark = pytest.mark.integration


def test_bicycle_span_scores_higher_than_the_rest(ped2: Path) -> None:
    train = [list(iter_video_frames(ped2 / "train" / f"train_{i:02d}.mp4")) for i in (1, 2)]
    model = fit_normality_model(train, NormalityConfig())
    frames = list(iter_video_frames(ped2 / "test" / "test_04.mp4"))
    _, scores = model.score_frames(frames)
    labels = json.loads((ped2 / "test_labels.json").read_text())["videos"]["test_04"]["labels"]
    y = np.asarray(labels, dtype=bool)
    assert scores[y].mean() > scores[~y].mean() + 0.1


def test_evaluate_ped2_on_a_subset(ped2: Path, tmp_path: Path) -> None:
    out = tmp_path / "scores.json"
    result = evaluate_ped2(
        ped2, NormalityConfig(), subset=["test_01", "test_04"], scores_out=out, fps=10.0
    )
    assert result["frames"] == 360 and result["videos"] == 2
    assert 0.7 < result["auc"] <= 1.0 and 0.7 < result["ap"] <= 1.0
    assert set(result["per_video_auc"]) == {"test_01", "test_04"}
    assert result["scoring_fps"] > 0 and result["fit_seconds"] > 0
    written = json.loads(out.read_text())
    assert [len(v) for v in written.values()] == [180, 180]
