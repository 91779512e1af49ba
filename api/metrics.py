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


def render(
    snapshot: dict, settings: Settings, kafka_lag: list[tuple[str, str, int, int]] | None = None
) -> str:
    """`kafka_lag`: (topic, topic id, partition, lag) from `workers.lag`; None when the app has no
    Kafka (the lag series are then absent, not 0)."""
    cams = snapshot["cameras"]
    kept_recent = snapshot.get("kept_recent", {})
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
        "vad_camera_kept_fps",
        "gauge",
        "Kept (not pruned) frames per second over the last minute, counted from frame scores "
        "(so frames still waiting to be scored are not in it yet).",
        [({"camera": c.name}, kept_recent.get(c.name, 0) / 60.0) for c in cams],
    )
    lines += _metric(
        "vad_camera_pruned_ratio",
        "gauge",
        "Pruned / (kept + pruned) frames per camera since it was added; absent before any frame.",
        [
            ({"camera": c.name}, c.pruned_frames / (c.kept_frames + c.pruned_frames))
            for c in cams
            if c.kept_frames + c.pruned_frames
        ],
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
        "Capture-to-scored time (scored_at - end_at: last frame of the window captured to its "
        "scores stored) of windows scored in the last 5 minutes; quantile or mean.",
        [
            ({"quantile": "0.5"}, latency["p50"]),
            ({"quantile": "0.95"}, latency["p95"]),
            ({"quantile": "mean"}, latency["mean"]),
        ]
        if latency
        else [],
    )
    lines += _metric(
        "vad_windows_scored_recent",
        "gauge",
        "Windows scored in the last 5 minutes (the sample behind vad_window_latency_seconds).",
        [({}, latency["count"] if latency else 0)],
    )
    queue = snapshot.get("window_queue_seconds")
    lines += _metric(
        "vad_window_queue_seconds",
        "gauge",
        "Mean enqueue-to-scored time of windows scored in the last 5 minutes.",
        [({}, float(queue))] if queue is not None else [],
    )
    if kafka_lag is not None:
        lines += _metric(
            "vad_kafka_lag_records",
            "gauge",
            "Frames in the log not yet dispatched into windows: log end offset - dispatch "
            "position, per partition.",
            [
                ({"topic": topic, "topic_id": topic_id, "partition": partition}, lag)
                for topic, topic_id, partition, lag in kafka_lag
            ],
        )
    lines += _stage2(snapshot.get("stage2", {}))
    return "\n".join(lines) + "\n"


STAGE2_STATES = ("pending", "running", "done", "skipped", "failed")


def _stage2(counts: dict[tuple[str, str], int]) -> list[str]:
    """Stage-2 requests by status, and the skipped ones by reason (`db.stage2.counts`)."""
    by_status: dict[str, int] = {}
    skipped: dict[str, int] = {}
    for (status, reason), n in counts.items():
        by_status[status] = by_status.get(status, 0) + n
        if status == "skipped":
            skipped[reason or "other"] = skipped.get(reason or "other", 0) + n
    lines = _metric(
        "vad_stage2_queue_depth",
        "gauge",
        "Stage-2 window analyses waiting or in progress (pending + running).",
        [({}, by_status.get("pending", 0) + by_status.get("running", 0))],
    )
    lines += _by_status(
        "vad_stage2_analyses", "Stage-2 window analyses by status.", by_status, STAGE2_STATES
    )
    lines += _metric(
        "vad_stage2_skipped_total",
        "counter",
        "Windows flagged by stage 1 that stage 2 did not analyse, by reason (budget, stale, "
        "incident cap, no frames).",
        [({"reason": r}, n) for r, n in sorted(skipped.items())],
    )
    return lines


def _by_status(name: str, help_: str, counts: dict[str, int], known: tuple[str, ...]) -> list[str]:
    """Known states always appear (as 0), so alerts on e.g. failed windows have a series."""
    states = list(known) + sorted(set(counts) - set(known))
    return _metric(name, "gauge", help_, [({"status": s}, counts.get(s, 0)) for s in states])
