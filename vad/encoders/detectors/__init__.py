"""Object detectors: the interface (`base`), one plugin per family, and the factory that reads
an exported model's manifest and opens the plugin its "family" names.

    from vad.encoders.detectors import Detection, Detector, open_detector
    detector = Detector.load(model_dir)            # any family
    per_frame = detector.detect([bgr, ...])         # list[list[Detection]]
"""

from __future__ import annotations

from pathlib import Path

from vad.encoders.detectors.base import Detection, Detector, nms
from vad.encoders.registry import export_dir
from vad.encoders.runtime import ModelCorrupt, read_manifest

__all__ = [
    "Detection",
    "Detector",
    "detector_options",
    "installed_detector",
    "nms",
    "open_detector",
    "plugin",
]


def plugin(family: str) -> type[Detector]:
    """The Detector subclass of a model family (imported on demand: one file per family)."""
    if family == "yolo":
        from vad.encoders.detectors.yolo import YoloDetector

        return YoloDetector
    if family == "ssd":
        from vad.encoders.detectors.ssd import SsdDetector

        return SsdDetector
    if family == "nanodet":
        from vad.encoders.detectors.nanodet import NanoDetDetector

        return NanoDetDetector
    raise ModelCorrupt(f"unknown detector family {family!r} (known: yolo, ssd, nanodet)")


def open_detector(model_dir: Path, providers: list[str] | None = None, **options) -> Detector:
    """The exported detector in `model_dir`; options as `Detector.__init__` takes them."""
    manifest = read_manifest(model_dir)
    if manifest.get("kind") != "detector":
        raise ModelCorrupt(f"{model_dir} holds a {manifest.get('kind')!r} model, not detector")
    return plugin(manifest.get("family", "yolo"))(model_dir, manifest, providers, **options)


def installed_detector(model_dir: Path, config) -> Detector | None:
    """The detector `config` (settings.encoders) names, with its options; None if not exported.

    A folder that exists but cannot be opened raises `ModelError` (say it, don't hide it)."""
    folder = export_dir(Path(model_dir), config.detector)
    if not folder.exists():
        return None
    return open_detector(folder, list(config.providers) or None, **detector_options(config))


def detector_options(config) -> dict:
    """`Detector.__init__` options from the settings (`settings.encoders`)."""
    return {
        "threads": config.threads,
        "batch_size": config.batch_size,
        "confidence": config.detector_confidence,
        "iou": config.detector_iou,
        "ignore": tuple(config.detector_ignore),
    }
