"""Prometheus metrics, read from the database on each scrape.

The counters live in PostgreSQL already (cameras' kept/pruned/dropped, window and delivery
states), so every API replica reports the same numbers and no in-process state is kept: a
prometheus_client `Collector` reads a snapshot when the registry collects, and prometheus_client
writes the exposition (names, label escaping, HELP/TYPE lines).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from api.settings import ApiAppSettings
from vad.sampling import camera_rates

CAMERA_STATUSES = ("new", "online", "reconnecting", "offline", "ended")
STAGE2_STATES = ("pending", "running", "done", "skipped", "failed")
# The text format version the exposition is written in (what Prometheus negotiates by default).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# (topic, topic id, partition, lag) per partition, from `frames.lag`
KafkaLag = list[tuple[str, str, int, int]]
SnapshotReader = Callable[[], tuple[dict, KafkaLag | None]]


class DatabaseCollector(Collector):
    """Calls `read` (one database snapshot and the Kafka lag, or None when the app has no
    Kafka) each time the registry is collected, i.e. on every scrape."""

    def __init__(self, read: SnapshotReader, settings: ApiAppSettings) -> None:
        self.read = read
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        snapshot, kafka_lag = self.read()
        return families(snapshot, self.settings, kafka_lag)


def exposition(collector: Collector) -> bytes:
    """The text exposition of one collection of `collector` (a registry of its own, so nothing
    process-wide is registered or collected)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return generate_latest(registry)


def render(snapshot: dict, settings: ApiAppSettings, kafka_lag: KafkaLag | None = None) -> str:
    """The exposition of a given snapshot (`kafka_lag` None: the lag series are absent, not 0)."""
    return exposition(DatabaseCollector(lambda: (snapshot, kafka_lag), settings)).decode()


def _family(kind: str, name: str, help_: str, labels: tuple[str, ...], samples: Iterable) -> Metric:
    """A family with one sample per (label values, value); HELP and TYPE even when empty."""
    make = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
    family = make(name, help_, labels=list(labels))
    for values, value in samples:
        family.add_metric([str(v) for v in values], float(value))
    return family


def families(
    snapshot: dict, settings: ApiAppSettings, kafka_lag: KafkaLag | None
) -> Iterator[Metric]:
    cams = snapshot["cameras"]
    kept_recent = snapshot.get("kept_recent", {})
    yield _family(
        "counter",
        "vad_camera_frames_total",
        "Frames seen per camera by fate.",
        ("camera", "fate"),
        [
            ((c.name, fate), getattr(c, f"{fate}_frames"))
            for c in cams
            for fate in ("kept", "pruned", "dropped")
        ],
    )
    yield from _rates(cams, settings)
    yield _family(
        "gauge",
        "vad_camera_kept_fps",
        "Kept (not pruned) frames per second over the last minute, counted from frame scores "
        "(so frames still waiting to be scored are not in it yet).",
        ("camera",),
        [((c.name,), kept_recent.get(c.name, 0) / 60.0) for c in cams],
    )
    yield _family(
        "gauge",
        "vad_camera_pruned_ratio",
        "Pruned / (kept + pruned) frames per camera since it was added; absent before any frame.",
        ("camera",),
        [
            ((c.name,), c.pruned_frames / (c.kept_frames + c.pruned_frames))
            for c in cams
            if c.kept_frames + c.pruned_frames
        ],
    )
    yield _family(
        "gauge",
        "vad_camera_up",
        "1 when the camera is online.",
        ("camera", "status"),
        [((c.name, c.status), 1.0 if c.status == "online" else 0.0) for c in cams],
    )
    yield _by_status(
        "vad_windows",
        "Scoring windows by status.",
        snapshot["windows"],
        ("queued", "running", "done", "failed"),
    )
    yield _by_status(
        "vad_incidents", "Incidents by status.", snapshot["incidents"], ("open", "closed")
    )
    yield _by_status(
        "vad_webhook_deliveries",
        "Webhook deliveries by status.",
        snapshot["deliveries"],
        ("pending", "delivered", "dead"),
    )
    yield _family(
        "counter",
        "vad_webhook_attempt_failures_total",
        "Failed webhook HTTP attempts.",
        (),
        [((), snapshot["attempt_failures"])],
    )
    yield from _latency(snapshot)
    if kafka_lag is not None:
        yield _family(
            "gauge",
            "vad_kafka_lag_records",
            "Frames in the log not yet dispatched into windows: log end offset - dispatch "
            "position, per partition.",
            ("topic", "topic_id", "partition"),
            [((topic, topic_id, partition), lag) for topic, topic_id, partition, lag in kafka_lag],
        )
    yield from _stage2(snapshot.get("stage2", {}))


def _rates(cams: list, settings: ApiAppSettings) -> Iterator[Metric]:
    """Per camera the fps setting, its source's announced rate and the rate analysed
    (`vad.sampling.camera_rates`): a 25 fps camera set to 10 is analysed at 8.33 fps."""
    rates = [(c.name, camera_rates(settings.ingest.camera_fps(c.fps), c.source_fps)) for c in cams]
    yield _family(
        "gauge",
        "vad_camera_fps",
        "Analysis fps setting per camera (its own, else the default); the rate actually analysed "
        "is vad_camera_analysed_fps.",
        ("camera",),
        [((name,), r.setting) for name, r in rates],
    )
    yield _family(
        "gauge",
        "vad_camera_source_fps",
        "Frame rate the camera's source announced at its latest connection; absent when unknown.",
        ("camera",),
        [((name,), r.source) for name, r in rates if r.source is not None],
    )
    yield _family(
        "gauge",
        "vad_camera_analysed_fps",
        "Frames per second analysed per camera: every k-th source frame, the whole stride k that "
        "brings the source's rate closest to the setting; the setting when the source's rate is "
        "unknown.",
        ("camera",),
        [((name,), r.analysed) for name, r in rates],
    )


def _latency(snapshot: dict) -> Iterator[Metric]:
    latency = snapshot["window_latency"]
    yield _family(
        "gauge",
        "vad_window_latency_seconds",
        "Capture-to-scored time (scored_at - end_at: last frame of the window captured to its "
        "scores stored) of windows scored in the last 5 minutes; quantile or mean.",
        ("quantile",),
        [(("0.5",), latency["p50"]), (("0.95",), latency["p95"]), (("mean",), latency["mean"])]
        if latency
        else [],
    )
    yield _family(
        "gauge",
        "vad_windows_scored_recent",
        "Windows scored in the last 5 minutes (the sample behind vad_window_latency_seconds).",
        (),
        [((), latency["count"] if latency else 0)],
    )
    queue = snapshot.get("window_queue_seconds")
    yield _family(
        "gauge",
        "vad_window_queue_seconds",
        "Mean enqueue-to-scored time of windows scored in the last 5 minutes.",
        (),
        [((), queue)] if queue is not None else [],
    )


def _stage2(counts: dict[tuple[str, str], int]) -> Iterator[Metric]:
    """Stage-2 requests by status, and the skipped ones by reason (`db.stage2.counts`)."""
    by_status: dict[str, int] = {}
    skipped: dict[str, int] = {}
    for (status, reason), n in counts.items():
        by_status[status] = by_status.get(status, 0) + n
        if status == "skipped":
            skipped[reason or "other"] = skipped.get(reason or "other", 0) + n
    yield _family(
        "gauge",
        "vad_stage2_queue_depth",
        "Stage-2 window analyses waiting or in progress (pending + running).",
        (),
        [((), by_status.get("pending", 0) + by_status.get("running", 0))],
    )
    yield _by_status(
        "vad_stage2_analyses", "Stage-2 window analyses by status.", by_status, STAGE2_STATES
    )
    yield _family(
        "counter",
        "vad_stage2_skipped_total",
        "Windows flagged by stage 1 that stage 2 did not analyse, by reason (budget, stale, "
        "incident cap, no frames).",
        ("reason",),
        [((r,), n) for r, n in sorted(skipped.items())],
    )


def _by_status(name: str, help_: str, counts: dict[str, int], known: tuple[str, ...]) -> Metric:
    """Known states always appear (as 0), so alerts on e.g. failed windows have a series."""
    states = list(known) + sorted(set(counts) - set(known))
    return _family("gauge", name, help_, ("status",), [((s,), counts.get(s, 0)) for s in states])
