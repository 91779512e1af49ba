"""compose.yaml stays consistent with the code: every `vad` command it runs exists, every setting it
passes is a real setting, and the stack has the parts production needs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import typer.main
import yaml

from service.cli import app
from service.settings import Settings
from tests.support.requirements import missing

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


THIRD_PARTY = {"kafka", "postgres", "redis", "grafana"}


def _vad_services(compose: dict) -> dict:
    return {n: s for n, s in compose["services"].items() if n not in THIRD_PARTY}


def test_production_parts_are_there(compose):
    services = set(compose["services"])
    assert {
        "kafka",
        "postgres",
        "redis",
        "migrate",
        "dispatcher",
        "ingest",
        "worker-cpu",
        "worker-gpu",
        "api",
        "webhooks",
        "grafana",
    } <= services
    for name in ("kafka", "postgres", "redis", "api", "grafana"):
        assert "healthcheck" in compose["services"][name], name
    gpu = compose["services"]["worker-gpu"]["deploy"]["resources"]["reservations"]["devices"]
    assert gpu[0]["driver"] == "nvidia" and "gpu" in gpu[0]["capabilities"]
    for name, service in compose["services"].items():
        assert service.get("restart") in ("unless-stopped", "always", "no"), name
    grafana = " ".join(compose["services"]["grafana"]["volumes"])
    assert "/etc/grafana/provisioning" in grafana and "dashboards" in grafana


def test_docker_compose_config_accepts_the_file():
    """The real Compose v2 parser (scripts/compose-setup.sh installs the plugin in CI): catches
    what YAML alone cannot (unknown keys, bad interpolation, wrong types, broken anchors)."""
    if (
        shutil.which("docker") is None
        or subprocess.run(
            ["docker", "compose", "version"], capture_output=True, timeout=30
        ).returncode
    ):
        missing("`docker compose` is not installed (run scripts/compose-setup.sh)")
    checked = subprocess.run(
        ["docker", "compose", "-f", str(ROOT / "compose.yaml"), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert checked.returncode == 0, checked.stderr


def test_every_command_is_a_vad_command(compose):
    click_app = typer.main.get_command(app)
    for name, service in _vad_services(compose).items():
        command = service["command"]
        words = command if isinstance(command, list) else command.split()
        group = click_app
        for word in words:
            if word.startswith("-"):
                break
            sub = getattr(group, "commands", {}).get(word)
            if sub is None:
                break
            group = sub
        assert group is not click_app, f"service {name!r} runs unknown command {words}"


def test_environment_names_real_settings(compose):
    fields = set(Settings.model_fields)
    for name, service in compose["services"].items():
        for key in dict(service.get("environment") or {}):
            if key.startswith("VAD_"):
                top = key[4:].lower().split("__")[0]
                assert top in fields, f"{name}: {key} is not a setting"
