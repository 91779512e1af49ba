"""`vad incidents`: query the incident database."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import typer

from db import incident_queries
from db.incident_serializer import CLI, serialize_incident
from service.context import fail, get_context
from vad.masks import PolygonError, validate_zone_name

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta | None:
    """'90s', '15m', '1h', '2d' as a timedelta; None if the text is not such a duration.
    OverflowError for a duration longer than `timedelta` holds."""
    match = _DURATION.match(text.strip())
    return timedelta(**{_UNITS[match[2]]: float(match[1])}) if match else None


def parse_since(text: str) -> datetime:
    """'90s', '15m', '1h', '2d' ago, or an ISO timestamp."""
    try:
        span = parse_duration(text)
        if span is not None:
            return datetime.now(UTC) - span
    except OverflowError:
        raise ValueError(f"--since {text!r} reaches before year 1") from None
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"--since {text!r}: use e.g. 30m, 1h, 2d or an ISO time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_zone(text: str | None) -> str | None:
    """A `--zone` filter read as zone names are stored (trimmed, printable); ValueError if it
    cannot be one, so a typo'd blank is an error rather than an empty list."""
    if text is None:
        return None
    try:
        return validate_zone_name(text)
    except PolygonError as error:
        raise ValueError(f"--zone {text!r}: {error}") from None


def format_incident(d: dict) -> str:
    end = d["ended_at"][11:19] if d["ended_at"] else "open"
    return (
        f"#{d['id']:<5} {d['camera']:<14} {d['started_at'][:19].replace('T', ' ')} -> {end:<8} "
        f"peak {d['peak_score']:.2f}  {d['status']}"
        + (f"  zones {', '.join(d['zones'])}" if d.get("zones") else "")
        + (f"  fused {d['fused_score']:.2f}: {d['explanation']}" if d.get("fused_score") else "")
    )


def incidents(
    ctx: typer.Context,
    camera: str = typer.Option(None, "--camera", help="Only this camera."),
    since: str = typer.Option(None, "--since", help="Only incidents active since, e.g. 1h, 30m."),
    min_score: float = typer.Option(None, "--min-score", help="Only peaks at or above this."),
    status: str = typer.Option(None, "--status", help="open or closed."),
    zone: str = typer.Option(None, "--zone", help="Only incidents that touched this zone."),
    limit: int = typer.Option(100, "--limit", min=1, max=10000),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List incidents, newest first."""
    try:
        flt = incident_queries.IncidentFilter(
            camera=camera,
            since=parse_since(since) if since else None,
            min_score=min_score,
            status=status,
            zone=parse_zone(zone),
            limit=limit,
        )
    except ValueError as error:
        fail(str(error))
    with get_context(ctx).sessions()() as session:
        rows = [
            serialize_incident(i, name, CLI)
            for i, name in incident_queries.query_incidents(session, flt)
        ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    elif not rows:
        typer.echo("no incidents")
    else:
        for row in rows:
            typer.echo(format_incident(row))
