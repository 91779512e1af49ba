"""`vad search "text"`: incidents and moments by meaning; `vad search-index`: embed texts."""

from __future__ import annotations

import json

import typer

from api.searcher import Searcher, SearchResult
from db.search import Filters
from db.session import transaction
from service.commands.incidents import parse_since, parse_zone
from service.context import fail, get_context
from vad.text import TextModelError


def _as_dict(result: SearchResult) -> dict:
    return {
        "incidents": [
            {
                "incident_id": h.incident_id,
                "camera": h.camera,
                "started_at": h.started_at.isoformat(),
                "ended_at": h.ended_at.isoformat() if h.ended_at else None,
                "score": round(h.score, 5),
                "similarity": None if h.similarity is None else round(h.similarity, 4),
                "key_frame_url": f"/incidents/{h.incident_id}/key-frame.jpg"
                if h.has_key_frame
                else None,
                "text": h.body,
            }
            for h in result.incidents
        ],
        "moments": [
            {
                "camera": m.camera,
                "start": m.start.isoformat(),
                "end": m.end.isoformat(),
                "score": round(m.score, 4),
                "incident_id": m.incident_id,
            }
            for m in result.moments
        ],
        "moments_available": result.moments_available,
    }


def _print(result: dict) -> None:
    for h in result["incidents"]:
        first_line = h["text"].splitlines()[0][:70] if h["text"] else ""
        typer.echo(
            f"#{h['incident_id']:<6} {h['camera']:<14} {h['started_at'][:19].replace('T', ' ')} "
            f"score {h['score']:.4f}  {first_line}"
        )
    if not result["incidents"]:
        typer.echo("no incidents match")
    if not result["moments_available"]:
        typer.echo("(moments: no CLIP encoder installed - `vad models list`)")
    for m in result["moments"]:
        linked = f"incident #{m['incident_id']}" if m["incident_id"] else "no incident"
        typer.echo(
            f"moment {m['camera']:<14} {m['start'][:19].replace('T', ' ')} -> "
            f"{m['end'][11:19]}  score {m['score']:.3f}  {linked}"
        )


def search(
    ctx: typer.Context,
    text: str = typer.Argument(..., help="What happened, in words."),
    camera: str = typer.Option(None, "--camera", help="Only this camera."),
    zone: str = typer.Option(None, "--zone", help="Only incidents that touched this zone."),
    since: str = typer.Option(None, "--since", help="Only since, e.g. 1h, 2d or an ISO time."),
    limit: int = typer.Option(10, "--limit", min=1, max=100, help="Results per kind."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Rank incidents by meaning (sentence embeddings fused with full text) and find moments in
    the cameras' stored frame embeddings."""
    context = get_context(ctx)
    try:
        filters = Filters(
            camera=camera, since=parse_since(since) if since else None, zone=parse_zone(zone)
        )
    except ValueError as error:
        fail(str(error))
    try:
        with transaction(context.sessions()) as session:
            found = Searcher(context.settings).search(session, text, filters, limit)
    except TextModelError as error:
        fail(str(error))
    result = _as_dict(found)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    else:
        _print(result)


def search_index(
    ctx: typer.Context,
    batch: int = typer.Option(256, "--batch", min=1, help="Rows embedded per transaction."),
) -> None:
    """Embed every incident text still waiting for its sentence embedding (e.g. after a bulk
    import); searches also embed a few pending rows each time."""
    context = get_context(ctx)
    searcher = Searcher(context.settings)
    total = 0
    try:
        while True:
            with transaction(context.sessions()) as session:
                done = searcher.index_pending(session, batch)
            total += done
            if done < batch:
                break
    except TextModelError as error:
        fail(str(error))
    typer.echo(f"embedded {total} incident texts")
