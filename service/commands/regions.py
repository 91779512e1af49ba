"""`vad camera mask NAME` and `vad camera zone NAME [ZONE]`: polygons on a camera's view
(vad.masks), in fractions of the frame: "x1,y1 x2,y2 x3,y3 ..." with (0,0) the top-left corner.

Masks hide parts of the view from stage 1 and the detector; zones name parts of it, and incidents
say which they touched. Running workers pick changes up within seconds. Every invocation prints
the camera's polygons after its changes (bad input changes nothing)."""

from __future__ import annotations

import typer

from db import camera_queries, regions
from db.session import transaction
from service.context import fail, get_context
from vad.masks import PolygonError, parse_polygon, validate_zone_name

_ADD_HELP = "A polygon 'x1,y1 x2,y2 x3,y3 ...' in fractions of the frame (repeatable)."


def mask(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Camera name."),
    add: list[str] = typer.Option(None, "--add", help=_ADD_HELP),
    remove: list[int] = typer.Option(None, "--remove", help="Remove the mask with this id."),
    clear: bool = typer.Option(False, "--clear", help="Remove all of the camera's masks."),
    list_: bool = typer.Option(False, "--list", help="Only list (the default without changes)."),
) -> None:
    """Show or edit the camera's masks: parts of the view stage 1 and the detector ignore (a
    burned-in clock, trees in the wind, a road outside the fence)."""
    polygons = _parse(add or [])
    with transaction(get_context(ctx).sessions()) as session:
        camera = _camera(session, name)
        if clear:
            regions.remove_regions(session, camera.id, "mask")
        for region_id in remove or []:
            if not regions.remove_regions(session, camera.id, "mask", region_id):
                fail(f"camera {name!r} has no mask {region_id}")
        _add(session, camera.id, "mask", polygons, None)
        rows = regions.list_regions(session, camera.id, "mask")
        _print(f"camera {name!r} masks:", rows)


def zone(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Camera name."),
    zone_name: str = typer.Argument(None, metavar="ZONE", help="Zone name (needed by --add)."),
    add: list[str] = typer.Option(None, "--add", help=_ADD_HELP + " Added to ZONE."),
    remove: list[int] = typer.Option(None, "--remove", help="Remove the polygon with this id."),
    clear: bool = typer.Option(
        False, "--clear", help="Remove ZONE (all its polygons), or every zone without ZONE."
    ),
    list_: bool = typer.Option(False, "--list", help="Only list (the default without changes)."),
) -> None:
    """Show or edit the camera's zones: named parts of the view. Incidents list the zones they
    touched; webhooks (`zones`) and `vad search --zone` filter by them."""
    polygons = _parse(add or [])
    try:
        zone_name = validate_zone_name(zone_name) if zone_name is not None else None
    except PolygonError as error:
        fail(str(error))
    if polygons and zone_name is None:
        fail("--add needs the zone's name: vad camera zone NAME ZONE --add 'x1,y1 x2,y2 ...'")
    with transaction(get_context(ctx).sessions()) as session:
        camera = _camera(session, name)
        if clear:
            removed = regions.remove_regions(session, camera.id, "zone", zone=zone_name)
            if zone_name is not None and not removed:
                fail(f"camera {name!r} has no zone {zone_name!r}")
        for region_id in remove or []:
            if not regions.remove_regions(session, camera.id, "zone", region_id, zone_name):
                fail(f"camera {name!r} has no zone polygon {region_id}")
        _add(session, camera.id, "zone", polygons, zone_name)
        rows = regions.list_regions(session, camera.id, "zone")
        _print(f"camera {name!r} zones:", rows)


def _parse(texts: list[str]):
    polygons = []
    for i, text in enumerate(texts):
        try:
            polygons.append(parse_polygon(text))
        except PolygonError as error:
            fail(f"--add #{i + 1}: {error}")
    return polygons


def _camera(session, name: str):
    try:
        return camera_queries.get_camera(session, name)
    except camera_queries.CameraNotFound as error:
        fail(str(error))


def _add(session, camera_id: int, kind: str, polygons, zone_name: str | None) -> None:
    try:
        for polygon in polygons:
            regions.add_region(session, camera_id, kind, polygon, zone_name)
    except regions.TooManyPolygons as error:
        fail(str(error))


def _print(title: str, rows) -> None:
    typer.echo(title)
    if not rows:
        typer.echo("  (none)")
    for row in rows:
        points = " ".join(f"{x:.4g},{y:.4g}" for x, y in row.points)
        label = f"{row.zone}  " if row.zone else ""
        typer.echo(f"  #{row.id:<4} {label}{points}")
