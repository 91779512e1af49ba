"""The one incident serializer: an incident as the fields the outside world sees.

The API (`IncidentOut`), the webhook payload and the CLI (`vad incidents --json`, the replay and
up logs) all describe an incident with the fields below; each takes its `IncidentView` of them
(which fields, times as datetimes or ISO text, which scores rounded), so a new field is added
once, here, and each audience decides whether it shows it.
"""

from __future__ import annotations

from dataclasses import dataclass

from db.models import Incident

FIELDS = (
    "id",
    "camera",
    "status",
    "started_at",
    "ended_at",
    "peak_score",
    "peak_at",
    "threshold",
    "scorer",
    "rule",
    "fired",
    "zones",
    "key_frame_url",
    "has_key_frame",
    "fused_score",
    "explanation",
)
_TIMES = ("started_at", "ended_at", "peak_at")


@dataclass(frozen=True)
class IncidentView:
    """What one audience shows of an incident: `fields` (in FIELDS' order), times as ISO 8601
    text or datetimes, and which scores are rounded to 4 places."""

    fields: tuple[str, ...]
    iso_times: bool
    rounded: tuple[str, ...] = ()


# The API's response model (`api.schemas.IncidentOut`) encodes the datetimes itself.
API = IncidentView(tuple(f for f in FIELDS if f != "has_key_frame"), iso_times=False)
# Fixed at enqueue time, so every attempt sends the same bytes; the key frame link is always
# given (the frame is stored right after the event's transaction).
WEBHOOK = IncidentView(
    tuple(f for f in FIELDS if f not in ("fired", "has_key_frame")),
    iso_times=True,
    rounded=("peak_score",),
)
CLI = IncidentView(
    tuple(f for f in FIELDS if f not in ("threshold", "key_frame_url")),
    iso_times=True,
    rounded=("peak_score", "fused_score"),
)


def serialize_incident(
    incident: Incident, camera: str, view: IncidentView, has_key_frame: bool | None = None
) -> dict:
    """The incident as `view` shows it; `camera` is its camera's name. `has_key_frame` defaults
    to whether the loaded row holds one (pass it when the query deferred the image)."""
    if has_key_frame is None:
        has_key_frame = incident.key_frame is not None
    everything = {
        "id": incident.id,
        "camera": camera,
        "status": incident.status,
        "started_at": incident.started_at,
        "ended_at": incident.ended_at,
        "peak_score": incident.peak_score,
        "peak_at": incident.peak_at,
        "threshold": incident.threshold,
        "scorer": incident.scorer,
        "rule": incident.rule,
        "fired": incident.fired,
        "zones": incident.zones,  # null: the camera had no zones; []: none touched
        "key_frame_url": f"/incidents/{incident.id}/key-frame.jpg" if has_key_frame else None,
        "has_key_frame": has_key_frame,
        "fused_score": incident.fused_score,
        "explanation": incident.explanation,
    }
    shown = {field: everything[field] for field in view.fields}
    for field in view.rounded:
        if shown.get(field) is not None:
            shown[field] = round(shown[field], 4)
    if view.iso_times:
        for field in _TIMES:
            if shown.get(field) is not None:
                shown[field] = shown[field].isoformat()
    return shown
