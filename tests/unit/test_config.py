"""Settings: defaults, VAD_* environment variables with nested sections, validation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from ingest.settings import IngestConfig
from service.settings import Settings
from vad.incidents import IncidentConfig
from vad.scoring.motion import ScoringConfig
from vad.settings import WindowConfig
from workers.settings import FaultConfig

SECTIONS = [IngestConfig, WindowConfig, ScoringConfig, IncidentConfig, FaultConfig]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No VAD_* variable of the machine running the tests may leak into them."""
    for name in list(os.environ):
        if name.upper().startswith("VAD_"):
            monkeypatch.delenv(name)


def _settings() -> Settings:
    return Settings(_env_file=None)


def _locations(error: ValidationError) -> list[tuple]:
    return [tuple(e["loc"]) for e in error.errors()]


# --- defaults ----------------------------------------------------------------------------------


def test_defaults_are_valid() -> None:
    settings = _settings()
    assert settings.data_dir == Path("var")
    assert settings.database_url is None and settings.kafka_bootstrap is None
    assert settings.kafka_topic == "frames" and settings.kafka_partitions == 4
    assert settings.ingest == IngestConfig()
    assert settings.windows == WindowConfig()
    assert settings.incidents == IncidentConfig()


@pytest.mark.parametrize("section", SECTIONS, ids=lambda s: s.__name__)
def test_each_sections_defaults_pass_its_own_validation(section) -> None:
    defaults = section()
    assert section.model_validate(defaults.model_dump()) == defaults


def test_defaults_are_consistent_with_each_other() -> None:
    s = _settings()
    assert s.ingest.backoff_initial_seconds <= s.ingest.backoff_max_seconds
    assert 0 < s.incidents.default_threshold < 1
    assert s.windows.idle_flush_seconds > 0 and s.windows.seconds > 0
    assert s.ingest.heartbeat_seconds >= 1 / s.ingest.default_fps
    assert s.scoring.motion_warmup_frames >= 1


def test_settings_round_trip_through_their_dump() -> None:
    settings = _settings()
    assert Settings(_env_file=None, **settings.model_dump()) == settings


def test_sections_are_frozen() -> None:
    with pytest.raises(ValidationError):
        _settings().ingest.jpeg_quality = 50  # type: ignore[misc]


def test_resolved_data_dir_is_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert _settings().resolved_data_dir() == tmp_path.resolve() / "var"


# --- environment -------------------------------------------------------------------------------


def test_nested_value_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAD_INGEST__JPEG_QUALITY", "80")
    settings = _settings()
    assert settings.ingest.jpeg_quality == 80
    # The rest of the section keeps its defaults.
    assert settings.ingest.model_dump(exclude={"jpeg_quality"}) == IngestConfig().model_dump(
        exclude={"jpeg_quality"}
    )


def test_several_nested_values_in_several_sections(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAD_INGEST__JPEG_QUALITY", "75")
    monkeypatch.setenv("VAD_INGEST__DEFAULT_FPS", "12.5")
    monkeypatch.setenv("VAD_WINDOWS__SECONDS", "1.5")
    monkeypatch.setenv("VAD_WINDOWS__CONTEXT_FRAMES", "0")
    monkeypatch.setenv("VAD_INCIDENTS__COOLDOWN_SECONDS", "0")
    monkeypatch.setenv("VAD_FAULTS__SCORE_DELAY_SECONDS", "0.25")
    s = _settings()
    assert (s.ingest.jpeg_quality, s.ingest.default_fps) == (75, 12.5)
    assert (s.windows.seconds, s.windows.context_frames) == (1.5, 0)
    assert s.incidents.cooldown_seconds == 0.0
    assert s.faults.score_delay_seconds == 0.25


def test_flat_connection_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAD_DATABASE_URL", "postgresql+psycopg://u@db:5432/vad")
    monkeypatch.setenv("VAD_KAFKA_BOOTSTRAP", "k1:9092,k2:9092")
    monkeypatch.setenv("VAD_KAFKA_PARTITIONS", "8")
    monkeypatch.setenv("VAD_DATA_DIR", "/srv/vad")
    s = _settings()
    assert s.database_url == "postgresql+psycopg://u@db:5432/vad"
    assert s.kafka_bootstrap == "k1:9092,k2:9092"
    assert s.kafka_partitions == 8 and s.data_dir == Path("/srv/vad")


def test_a_whole_section_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAD_INCIDENTS", '{"default_threshold": 0.75, "min_duration_seconds": 2}')
    s = _settings()
    assert s.incidents.default_threshold == 0.75 and s.incidents.min_duration_seconds == 2.0


def test_explicit_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAD_KAFKA_TOPIC", "from-env")
    assert Settings(_env_file=None, kafka_topic="explicit").kafka_topic == "explicit"


def test_variables_without_the_prefix_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_TOPIC", "nope")
    monkeypatch.setenv("INGEST__JPEG_QUALITY", "31")
    s = _settings()
    assert s.kafka_topic == "frames" and s.ingest.jpeg_quality == 90


# --- rejection ---------------------------------------------------------------------------------


def test_unknown_nested_field_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAD_INGEST__JPEG_QUALTY", "80")  # typo
    with pytest.raises(ValidationError) as error:
        _settings()
    assert ("ingest", "jpeg_qualty") in _locations(error.value)
    assert error.value.errors()[0]["type"] == "extra_forbidden"


@pytest.mark.parametrize("section", SECTIONS, ids=lambda s: s.__name__)
def test_sections_reject_unknown_fields(section) -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        section(not_a_field=1)


def test_unknown_top_level_argument_is_rejected() -> None:
    with pytest.raises(ValidationError):
        Settings(_env_file=None, not_a_setting=1)


@pytest.mark.parametrize(
    ("variable", "value", "loc"),
    [
        ("VAD_INGEST__JPEG_QUALITY", "101", ("ingest", "jpeg_quality")),
        ("VAD_INGEST__JPEG_QUALITY", "29", ("ingest", "jpeg_quality")),
        ("VAD_INGEST__JPEG_QUALITY", "high", ("ingest", "jpeg_quality")),
        ("VAD_INGEST__DEFAULT_FPS", "0", ("ingest", "default_fps")),
        ("VAD_INGEST__DEFAULT_FPS", "61", ("ingest", "default_fps")),
        ("VAD_INGEST__PRUNE_CHANGED_FRACTION", "1.5", ("ingest", "prune_changed_fraction")),
        ("VAD_INGEST__MAX_PENDING_FRAMES", "0", ("ingest", "max_pending_frames")),
        ("VAD_WINDOWS__SECONDS", "0", ("windows", "seconds")),
        ("VAD_WINDOWS__CONTEXT_FRAMES", "-1", ("windows", "context_frames")),
        ("VAD_WINDOWS__CONTEXT_FRAMES", "65", ("windows", "context_frames")),
        ("VAD_SCORING__MOTION_ALPHA", "1", ("scoring", "motion_alpha")),
        ("VAD_INCIDENTS__DEFAULT_THRESHOLD", "1.5", ("incidents", "default_threshold")),
        ("VAD_INCIDENTS__COOLDOWN_SECONDS", "-1", ("incidents", "cooldown_seconds")),
        ("VAD_FAULTS__SCORE_DELAY_SECONDS", "-0.1", ("faults", "score_delay_seconds")),
        ("VAD_KAFKA_PARTITIONS", "0", ("kafka_partitions",)),
        ("VAD_WORKERS", "0", ("workers",)),
    ],
)
def test_out_of_range_values_are_rejected(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, loc: tuple
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as error:
        _settings()
    assert _locations(error.value) == [loc]


@pytest.mark.parametrize("quality", [30, 100])
def test_range_bounds_are_inclusive_where_documented(
    monkeypatch: pytest.MonkeyPatch, quality: int
) -> None:
    monkeypatch.setenv("VAD_INGEST__JPEG_QUALITY", str(quality))
    assert _settings().ingest.jpeg_quality == quality
