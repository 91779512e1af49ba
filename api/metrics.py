"""Prometheus text exposition, generated from the database on each scrape.

The counters live in PostgreSQL already (cameras' kept/pruned/dropped, window and delivery
states), so every API replica reports the same numbers and no in-process registry is needed.
"""

from __future__ import annotations

from collections.abc import Iterable

from vad.config import Settings

CAMERA_STATUSES = ("new", "online", "reconnecting", "offline", "ended")


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _metric(name: str, kind: str, help_: str, samples: Iterable[tuple[dict, float]]) -> list[str]:
    lines = [f"# HELP {name} {help_}", f"# TYPE {name} {kind}"]
    for labels, value in samples:
        inner = ",".join(f'{k}="{_label(str(v))}"' for k, v in labels.items())
        lines.append(f"{name}{{{inner}}} {value:g}" if inner else f"{name} {value:g}")
    return lines


def render(snapshot: dict, settings: Settings) -> str:
    cams = snapshot["cameras"]
    lines: list[str] = []
    lines += _metric(
        "vad_camera_frames_total",
        "counter",
        "Frames seen per camera by fate.",
        [
            ({"camera": c.name, "fate": fate}, getattr(c, f"{fate}_frames"))
            for c in cams
            for fate in ("kept", "pruned", "dropped")
        ],
    )
    lines += _metric(
        "vad_camera_fps",
        "gauge",
        "Configured analysis fps per camera.",
        [({"camera": c.name}, c.fps or settings.ingest.default_fps) for c in cams],
    )
    lines += _metric(
        "vad_camera_up",
        "gauge",
        "1 when the camera is online.",
        [
            ({"camera": c.name, "status": c.status}, 1.0 if c.status == "online" else 0.0)
            for c in cams
        ],
    )
    lines += _by_status(
        "vad_windows",
        "Scoring windows by status.",
        snapshot["windows"],
        ("queued", "running", "done", "failed"),
    )
    lines += _by_status(
        "vad_incidents", "Incidents by status.", snapshot["incidents"], ("open", "closed")
    )
    lines += _by_status(
        "vad_webhook_deliveries",
        "Webhook deliveries by status.",
        snapshot["deliveries"],
        ("pending", "delivered", "dead"),
    )
    lines += _metric(
        "vad_webhook_attempt_failures_total",
        "counter",
        "Failed webhook HTTP attempts.",
        [({}, snapshot["attempt_failures"])],
    )
    latency = snapshot["window_latency"]
    lines += _metric(
        "vad_window_latency_seconds",
        "gauge",
        "Mean enqueue-to-scored time of windows scored in the last 5 minutes.",
        [({}, float(latency))] if latency is not None else [],
    )
    return "\n".join(lines) + "\n"


def _by_status(name: str, help_: str, counts: dict[str, int], known: tuple[str, ...]) -> list[str]:
    """Known states always appear (as 0), so alerts on e.g. failed windows have a series."""
    states = list(known) + sorted(set(counts) - set(known))
    return _metric(name, "gauge", help_, [({"status": s}, counts.get(s, 0)) for s in states])
