"""Masks and zones: polygons an operator draws on a camera's view, in normalised coordinates.

A **mask** hides part of the view from stage 1 and the detector (a burned-in clock, trees in the
wind, a road outside the fence). A **zone** is a named part of the view; incidents say which zones
they touched, and webhooks and search filter by them.

How a mask is applied (`RegionMask.freeze`): every frame of a scored sequence (look-back context
and window) gets the masked pixels of the sequence's first frame. The masked part then never
changes inside the sequence, so every motion feature there is zero (pixel model, velocity model's
flow), while its static appearance stays a real view of this camera (what the pixel model's
edge histograms and the appearance tiles learned), not a painted patch that would itself look
novel. Detections whose box is mostly masked are dropped (`RegionMask.covers_box`), whoever
runs the detector: the worker (object model), `vad camera learn` (object model, scene norms),
false-alarm feedback (object model) and stage 2's scene descriptions all run it through
`RegionMask.hide_from`, so an object inside the mask is never scored, learned or described (an
object present in the first frame would otherwise stay visible in the frozen pixels). Clips, key
frames and stage 2's captioner images are not masked: they show what the camera saw.

Pure: numpy and OpenCV only. Polygons are tuples of (x, y) in [0, 1], x to the right and y down,
(0, 0) the top-left corner of the view.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import cv2
import numpy as np

from vad.types import Frame

MAX_POLYGONS = 32  # per camera, masks and zones each
MAX_POINTS = 64  # per polygon
MAX_ZONE_NAME = 60
MOSTLY_MASKED = 0.5  # a detection with at least this fraction of its box masked is dropped
_BOX_GRID = 256  # resolution of the grid boxes are measured on
_MOTION_WIDTH = 160  # zones are found on a small grey copy of the frame
_MOTION_LEVEL = 15  # grey levels of change that count as movement
_MOTION_MIN_FRACTION = 0.001  # of the frame: fewer moving pixels in a zone is noise

Point = tuple[float, float]
Polygon = tuple[Point, ...]


class PolygonError(ValueError):
    """A polygon that cannot be stored: the message says what is wrong with it."""


def validate_polygon(points: Sequence[Sequence[float]]) -> Polygon:
    """The polygon as a tuple of (x, y) floats, or PolygonError: at least 3 and at most
    MAX_POINTS points, each a pair of finite numbers in [0, 1], enclosing some area."""
    if not isinstance(points, Sequence) or isinstance(points, str | bytes):
        raise PolygonError("a polygon is a list of [x, y] points")
    if len(points) < 3:
        raise PolygonError(f"a polygon needs at least 3 points, got {len(points)}")
    if len(points) > MAX_POINTS:
        raise PolygonError(f"a polygon has at most {MAX_POINTS} points, got {len(points)}")
    polygon = tuple(_point(i, p) for i, p in enumerate(points))
    if polygon_area(polygon) < 1e-6:
        raise PolygonError("the polygon encloses no area (its points are on one line)")
    return polygon


def _point(index: int, point: Sequence[float]) -> Point:
    if isinstance(point, str | bytes) or not isinstance(point, Sequence) or len(point) != 2:
        raise PolygonError(f"point {index + 1} is not an [x, y] pair")
    try:
        x, y = float(point[0]), float(point[1])
    except (TypeError, ValueError, OverflowError):
        raise PolygonError(f"point {index + 1} is not a pair of numbers") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise PolygonError(f"point {index + 1} is not finite")
    if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
        raise PolygonError(
            f"point {index + 1} ({x:g}, {y:g}) is outside the view: coordinates are fractions of "
            "the frame's width and height, in [0, 1]"
        )
    return (x, y)


def parse_polygon(text: str) -> Polygon:
    """'x1,y1 x2,y2 x3,y3 ...' (the CLI's form) -> a validated polygon."""
    pairs = text.replace(";", " ").split()
    points = []
    for i, pair in enumerate(pairs):
        parts = pair.split(",")
        if len(parts) != 2:
            raise PolygonError(f"point {i + 1} {pair!r} is not 'x,y'")
        try:
            points.append((float(parts[0]), float(parts[1])))
        except ValueError:
            raise PolygonError(f"point {i + 1} {pair!r} is not a pair of numbers") from None
    return validate_polygon(points)


def validate_zone_name(name: str) -> str:
    """A zone name: 1..MAX_ZONE_NAME printable characters, trimmed."""
    name = name.strip()
    if not name:
        raise PolygonError("a zone needs a name")
    if len(name) > MAX_ZONE_NAME:
        raise PolygonError(f"a zone name has at most {MAX_ZONE_NAME} characters")
    if not name.isprintable():
        raise PolygonError("a zone name must be printable text")
    return name


def polygon_area(polygon: Sequence[Point]) -> float:
    """Shoelace area, in fractions of the frame."""
    xs = np.array([p[0] for p in polygon])
    ys = np.array([p[1] for p in polygon])
    return float(abs(np.dot(xs, np.roll(ys, -1)) - np.dot(ys, np.roll(xs, -1))) / 2)


def rasterise(polygons: Iterable[Sequence[Point]], width: int, height: int) -> np.ndarray:
    """(height, width) bool: True inside any of the polygons (edges included)."""
    canvas = np.zeros((height, width), np.uint8)
    shift = 4  # sub-pixel precision of cv2.fillPoly
    scale = np.array([width, height], np.float64) * (1 << shift)
    for polygon in polygons:
        pts = np.round(np.asarray(polygon, np.float64) * scale).astype(np.int32)
        cv2.fillPoly(canvas, [pts], 1, lineType=cv2.LINE_8, shift=shift)
    return canvas.astype(bool)


@dataclass(frozen=True)
class RegionMask:
    """A camera's masked part of the view (the union of its mask polygons)."""

    polygons: tuple[Polygon, ...] = ()
    _cache: dict[tuple[int, int], np.ndarray] = field(
        default_factory=dict, compare=False, repr=False
    )

    def __bool__(self) -> bool:
        return bool(self.polygons)

    def pixels(self, width: int, height: int) -> np.ndarray:
        """(height, width) bool mask of the masked pixels (cached per frame size)."""
        key = (width, height)
        if key not in self._cache:
            self._cache[key] = rasterise(self.polygons, width, height)
        return self._cache[key]

    def freeze(self, images: Sequence[np.ndarray | None]) -> list[np.ndarray | None]:
        """The images with their masked pixels replaced by those of the sequence's first image
        of the same size (None stays None). Inputs are not modified."""
        if not self.polygons:
            return list(images)
        reference: dict[tuple[int, ...], np.ndarray] = {}
        out: list[np.ndarray | None] = []
        for image in images:
            if image is None:
                out.append(None)
                continue
            first = reference.setdefault(image.shape, image)
            if first is image:
                out.append(image)
                continue
            out.append(self._frozen(image, first))
        return out

    def freeze_clip(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """`freeze` over a stream (a training clip read lazily): what `vad camera learn` feeds
        the models, so they do not learn from the masked part either."""
        first: np.ndarray | None = None
        for image in frames:
            if not self.polygons or first is None or first.shape != image.shape:
                first = image  # (a new size starts a new reference)
                yield image
                continue
            yield self._frozen(image, first)

    def _frozen(self, image: np.ndarray, first: np.ndarray) -> np.ndarray:
        """A copy of `image` with the masked pixels of `first` (cv2.copyTo: ~100x faster than
        boolean indexing on a 720p frame)."""
        hidden = self.pixels(image.shape[1], image.shape[0]).view(np.uint8)
        return cv2.copyTo(first, hidden, image.copy())

    def box_fraction(self, box: Sequence[float]) -> float:
        """Fraction of a box (x1, y1, x2, y2 in frame fractions) that is masked."""
        if not self.polygons:
            return 0.0
        grid = self.pixels(_BOX_GRID, _BOX_GRID)
        x1, y1, x2, y2 = (min(max(float(v), 0.0), 1.0) for v in box)
        c1, c2 = int(x1 * _BOX_GRID), max(int(math.ceil(x2 * _BOX_GRID)), int(x1 * _BOX_GRID) + 1)
        r1, r2 = int(y1 * _BOX_GRID), max(int(math.ceil(y2 * _BOX_GRID)), int(y1 * _BOX_GRID) + 1)
        cells = grid[min(r1, _BOX_GRID - 1) : r2, min(c1, _BOX_GRID - 1) : c2]
        return float(cells.mean()) if cells.size else 0.0

    def covers_box(self, box: Sequence[float], fraction: float = MOSTLY_MASKED) -> bool:
        """Is the box mostly masked (the detector's hit is ignored)?"""
        return self.box_fraction(box) >= fraction

    def visible(self, detections: Sequence[Any]) -> list[Any]:
        """Those of one frame's detections (anything with a `box` in frame fractions) that the
        mask does not cover."""
        if not self.polygons:
            return list(detections)
        return [d for d in detections if not self.covers_box(d.box)]

    def hide_from(self, detector: Any) -> Any:
        """The detector as this camera sees it: the same detector when nothing is masked, else
        one whose detections inside the mask are dropped (`MaskedDetector`)."""
        if not self.polygons or detector is None:
            return detector
        return MaskedDetector(detector, self)


class MaskedDetector:
    """A detector (`vad.encoders.detectors.Detector`'s interface: `detect(images)` -> per image
    a list of detections, `name`, `batch_size`, ...) whose detections mostly inside a camera's
    mask are dropped. Everything else is the wrapped detector's, its name included, so a model
    fitted with the detector accepts it."""

    def __init__(self, detector: Any, mask: RegionMask) -> None:
        self.detector, self.mask = detector, mask

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Any]]:
        return [self.mask.visible(found) for found in self.detector.detect(images)]

    def __getattr__(self, name: str) -> Any:
        if name in ("detector", "mask"):  # not set yet (copy, pickle): no recursion
            raise AttributeError(name)
        return getattr(self.detector, name)


def mask_window(
    frames: Sequence[Frame], context: Sequence[Frame], mask: RegionMask
) -> tuple[list[Frame], list[Frame]]:
    """A window's frames and look-back context with the masked pixels frozen (`freeze` over the
    context followed by the window, so the first pair already sees no change there): what stage 1,
    the detector and the encoders are given."""
    if not mask:
        return list(frames), list(context)
    sequence = [*context, *frames]
    frozen = mask.freeze([f.image for f in sequence])
    out = [
        f if im is f.image else replace(f, image=im) for f, im in zip(sequence, frozen, strict=True)
    ]
    return out[len(context) :], out[: len(context)]


@dataclass(frozen=True)
class Zone:
    """A named part of the view: the union of its polygons."""

    name: str
    polygons: tuple[Polygon, ...]


@dataclass(frozen=True)
class CameraRegions:
    """Everything drawn on one camera: its mask and its zones."""

    mask: RegionMask = field(default_factory=RegionMask)
    zones: tuple[Zone, ...] = ()


class ZoneLocator:
    """Which zones a frame touched: those holding enough moving pixels (a change against the
    previous frame of the sequence, masked parts excluded since they are frozen) or the foot point
    (bottom centre) of a detected object, the point where it stands, as other NVRs place objects
    in zones."""

    def __init__(self, zones: Sequence[Zone]) -> None:
        self.zones = tuple(zones)
        self._maps: dict[tuple[int, int], list[np.ndarray]] = {}

    def _zone_maps(self, width: int, height: int) -> list[np.ndarray]:
        if (width, height) not in self._maps:
            self._maps[(width, height)] = [rasterise(z.polygons, width, height) for z in self.zones]
        return self._maps[(width, height)]

    def per_frame(
        self,
        images: Sequence[np.ndarray | None],
        previous: np.ndarray | None = None,
        boxes: Sequence[Sequence[Sequence[float]]] | None = None,
    ) -> list[list[str] | None]:
        """Zone names per image (None for an undecodable one); `previous` is the frame before
        the first image (context), `boxes` per image the detections' (x1, y1, x2, y2)."""
        if not self.zones:
            return [None if im is None else [] for im in images]
        out: list[list[str] | None] = []
        before = _small_grey(previous) if previous is not None else None
        for i, image in enumerate(images):
            if image is None:
                out.append(None)
                continue
            grey = _small_grey(image)
            hit = set()
            if before is not None and before.shape == grey.shape:
                hit |= self._moving_zones(cv2.absdiff(grey, before) > _MOTION_LEVEL)
            for box in (boxes[i] if boxes else ()) or ():
                hit |= self._zones_at(((box[0] + box[2]) / 2, box[3]))
            before = grey
            out.append([z.name for z in self.zones if z.name in hit])
        return out

    def _moving_zones(self, moving: np.ndarray) -> set[str]:
        height, width = moving.shape
        floor = max(1, int(_MOTION_MIN_FRACTION * width * height))
        maps = self._zone_maps(width, height)
        return {
            z.name for z, m in zip(self.zones, maps, strict=True) if (moving & m).sum() >= floor
        }

    def _zones_at(self, point: Point) -> set[str]:
        maps = self._zone_maps(_BOX_GRID, _BOX_GRID)
        col = min(max(int(point[0] * _BOX_GRID), 0), _BOX_GRID - 1)
        row = min(max(int(point[1] * _BOX_GRID), 0), _BOX_GRID - 1)
        return {z.name for z, m in zip(self.zones, maps, strict=True) if m[row, col]}


def _small_grey(image: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    size = (_MOTION_WIDTH, max(1, round(height * _MOTION_WIDTH / width)))
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return cv2.GaussianBlur(cv2.resize(grey, size, interpolation=cv2.INTER_AREA), (3, 3), 0)
