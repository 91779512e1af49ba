"""Frame stabilisation for the motion models: the earlier frame of a flow pair is shifted onto
the current one before any flow or difference is computed (issue 17, camera shake).

Why: a camera on a pole in the wind moves the whole view by a few pixels from frame to frame.
Every textured edge then shows flow as large as a walker's, in training and in scoring alike, and
the pixel and velocity models drown (Ped2 0.941 -> 0.640 with +-1 % of the width of random
shift). Subtracting the median flow inside the velocity model alone did not help: Farneback's
errors at every edge under a whole-pixel jump stay above a cyclist's excess speed. Registering the
two images first removes the jump before the flow is computed.

Why per pair and not per frame: aligning every frame on the first frame of a sequence makes a
frame's pixels depend on where the sequence started (the worker's windows start at their context
frames, `vad eval` at the clip's first frame). Aligning the earlier frame of each pair on the
later one depends on the two frames only, so a window scored with its context frames gives
exactly what a whole-clip pass gives, and the worker needs no more look-back than it already
reads (the pair's earlier frame is already in its context).

Why a gate: a steady camera must score bit for bit as without stabilisation. The translation
is proposed by the peak of the phase correlation of blurred copies (Hanning window), but walkers
pull that peak: on Ped2's steady training clips it sits one pixel off zero on 70 % of the pairs
two frames apart. So a proposed shift is applied only when it clearly explains the pair better:
the median absolute difference of the two blurred images must drop below `MAX_RESIDUAL` of its
value unshifted (the median is the background's: walkers cover a minority of the view). On Ped2's
steady training pairs the shifted median was never below 2x the unshifted one; on shaken pairs it
is 0.27x in the median. A rejected or zero proposal returns the earlier frame unchanged (the same
array). An accepted shift is moved to the best of its 3 x 3 neighbours by the same median (the
pull of walkers is about a pixel). Whole pixels of the internal image, not sub-pixel: exact, no
interpolation blur on one image of the pair only, and on shaken Ped2 training footage as good
(docs/benchmarks-normality.md, stabilise round).

Why the drift is then removed from the flow (`without_drift`, stabilise round 2): whole pixels
leave up to half an internal pixel of global motion, and a move of about half a pixel is not
aligned at all (no whole shift explains it better than none, so the gate rightly refuses it).
Those pairs carried nearly all of shaken footage's excess motion: on shaken Ped2 training clips
the 14 % of pixel-model pairs left unaligned held 99.6 % of the pixels above the learned motion
threshold, spread over the whole view, not along its edges. Flow measures sub-pixel motion
directly, so the pair's median flow (the background's: moving things cover a minority of the
view) is the drift left, and subtracting it removes what alignment cannot. Only a drift of at
least `MIN_DRIFT` is removed: a steady pair's median flow is the still background's (at most
0.06 px on Ped2's training pairs), so a steady camera's flow is returned untouched, the same
array. And only when the whole view moved alike (`moved_alike`, stabilise round 3): the median of
each quadrant of the view lies within `MAX_QUADRANT_SPREAD` of the whole view's. A moving thing
covering most of a close camera's view would otherwise own the median and have its own motion
subtracted; a shaking camera moves all four quadrants alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import cv2
import numpy as np

MIN_RESPONSE = 0.05  # peak of the normalised correlation (1 = a pure translation) to trust it
MAX_RESIDUAL = 0.8  # the shift must bring the median difference below this share of unshifted
_BLUR_SIGMA = 1.0  # px: damps the pixel grid and sensor noise before correlating
MIN_DRIFT = 0.2  # internal px: a pair's median flow below this is a steady view's noise
MAX_QUADRANT_SPREAD = 0.2  # internal px: a quadrant's median this far off the view's is not shake
# per component, internal px: both medians shorter than this make a drift shorter than MIN_DRIFT
# (0.14 x sqrt(2) = 0.198 < 0.2); see `surely_short_median`
_SURELY_SHORT = 0.14
_SAMPLE = 8  # every n-th difference guesses where the medians lie (`surely_refused`)

Spectra = tuple[np.ndarray, np.ndarray]  # the `spectrum`s of a pair's earlier and later image


@lru_cache(maxsize=8)
def _hanning(width: int, height: int) -> np.ndarray:
    return cv2.createHanningWindow((width, height), cv2.CV_32F)


@lru_cache(maxsize=32)
def _fast_size(n: int) -> int:
    """The largest DFT-friendly length (2^a 3^b 5^c) not above n: 107 rows (Ped2 at 160 px) would
    make the DFT four times slower than the 100 used instead."""
    return next(m for m in range(n, 0, -1) if cv2.getOptimalDFTSize(m) == m)


def _spectrum(grey: np.ndarray, width: int, height: int) -> np.ndarray:
    """DFT of the central `width` x `height` crop (fast DFT sizes), blurred and windowed."""
    top = (grey.shape[0] - height) // 2
    left = (grey.shape[1] - width) // 2
    crop = grey[top : top + height, left : left + width].astype(np.float32)
    crop = cv2.GaussianBlur(crop, (0, 0), _BLUR_SIGMA) * _hanning(width, height)
    return cv2.dft(crop, flags=cv2.DFT_COMPLEX_OUTPUT)


def spectrum(grey: np.ndarray) -> np.ndarray:
    """What the phase correlation reads of one grey image (`estimate_shift`): the DFT of its
    blurred, windowed central crop of fast DFT sizes."""
    height, width = _fast_size(grey.shape[0]), _fast_size(grey.shape[1])
    return _spectrum(grey, width, height)


def _correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Normalised phase correlation surface of two `spectrum`s; its peak sits at the shift
    a -> b."""
    cross = cv2.mulSpectrums(b, a, 0, conjB=True)
    cross /= np.maximum(np.hypot(cross[..., 0], cross[..., 1]), 1e-9)[..., None]
    return cv2.idft(cross, flags=cv2.DFT_REAL_OUTPUT | cv2.DFT_SCALE)


def estimate_shift(
    previous: np.ndarray, current: np.ndarray, spectra: Spectra | None = None
) -> tuple[int, int, float]:
    """(dx, dy, response): the whole-pixel translation carrying `previous` onto `current` (grey
    images of one size) and the height of the correlation peak. `spectra`: the two images'
    `spectrum`s when already computed (`SequenceAligner`)."""
    a, b = spectra if spectra is not None else (spectrum(previous), spectrum(current))
    surface = _correlation(a, b)
    h, w = surface.shape
    y, x = np.unravel_index(int(np.argmax(surface)), surface.shape)
    dx = x - w if x > w // 2 else x
    dy = y - h if y > h // 2 else y
    return int(dx), int(dy), float(surface[y, x])


def median_difference(previous: np.ndarray, current: np.ndarray, dx: int, dy: int) -> float:
    """Median absolute difference of two (blurred float) images once `previous` is moved by
    (dx, dy), over the part both cover."""
    difference = _differences(previous, current, dx, dy)
    return float("inf") if difference is None else float(np.median(difference))


def _differences(previous: np.ndarray, current: np.ndarray, dx: int, dy: int) -> np.ndarray | None:
    """What `median_difference` takes the median of (None: the shift leaves too little)."""
    h, w = previous.shape[:2]
    if abs(dx) >= w // 2 or abs(dy) >= h // 2:
        return None
    moved = previous[max(0, -dy) : h - max(0, dy), max(0, -dx) : w - max(0, dx)]
    seen = current[max(0, dy) : h - max(0, -dy), max(0, dx) : w - max(0, -dx)]
    return np.abs(moved - seen)


def median_at_least(values: np.ndarray, bound: float) -> bool:
    """`float(np.median(values)) >= bound`, by counting where that decides it (`median_versus`),
    else by the median."""
    decided = median_versus(values, bound)
    return float(np.median(values)) >= bound if decided is None else decided


def median_versus(values: np.ndarray, bound: float) -> bool | None:
    """Whether `float(np.median(values)) >= bound` (True, False), found by counting instead of
    sorting (speed round 3: a steady camera's proposed shifts are refused, and each median cost
    ~0.45 ms a Ped2 pair); None when the count cannot tell. Of n sorted values, the median is the
    middle one (odd n) or the mean of the two middle ones (even n). At most (n - 1) // 2 values
    under `bound`: the middle value(s) are at least `bound`, and so is their mean (rounding is
    monotone): True. At least n // 2 + 1 under it: the middle value(s) are under it, and so is
    their mean: False. Only an even n with exactly n / 2 under it is left (None). The count
    compares in float64, as the median's float is compared with `bound`. For finite values
    (blurred images are)."""
    flat = values.reshape(-1)
    below = int(np.count_nonzero(flat.astype(np.float64) < bound))
    if below <= (flat.size - 1) // 2:
        return True
    if below >= flat.size // 2 + 1:
        return False
    return None


def surely_refused(still: np.ndarray, moved: np.ndarray) -> bool:
    """Whether `median(moved) >= MAX_RESIDUAL * median(still)` (a proposed shift does not lower
    the unshifted difference enough: refused) is certain without either median (speed round 3).
    A pivot p between the two is guessed from every `_SAMPLE`-th value of each; if the count
    shows median(still) < p and median(moved) >= MAX_RESIDUAL * p (`median_versus`), then, the
    product with a positive constant rounding monotonely, MAX_RESIDUAL * median(still) <=
    MAX_RESIDUAL * p <= median(moved): refused. False says nothing: the medians decide. The
    guesses only choose p; a poor guess costs the medians, never a different answer."""
    still_guess = float(np.median(still.reshape(-1)[::_SAMPLE]))
    moved_guess = float(np.median(moved.reshape(-1)[::_SAMPLE]))
    if not moved_guess > MAX_RESIDUAL * still_guess > 0:
        return False
    pivot = float(np.sqrt(still_guess * moved_guess / MAX_RESIDUAL))  # as far from each
    below = median_versus(still, pivot) is False
    return below and median_versus(moved, MAX_RESIDUAL * pivot) is True


def _verified_shift(
    previous: np.ndarray, current: np.ndarray, dx: int, dy: int
) -> tuple[int, int] | None:
    """The proposed shift, moved to the best of its 3 x 3 neighbours by median difference, if it
    clearly lowers the unshifted median difference (`MAX_RESIDUAL`); None if it does not.
    The neighbours: walkers pull the correlation peak by a pixel on pairs two frames apart."""
    a, b = (
        cv2.GaussianBlur(g.astype(np.float32), (0, 0), _BLUR_SIGMA) for g in (previous, current)
    )
    still, moved = _differences(a, b, 0, 0), _differences(a, b, dx, dy)
    if moved is None or surely_refused(still, moved):
        return None
    if median_at_least(moved, MAX_RESIDUAL * float(np.median(still))):  # median_difference's
        return None
    near = [(dx + u, dy + v) for v in (-1, 0, 1) for u in (-1, 0, 1)]
    return min(near, key=lambda shift: median_difference(a, b, *shift))


def align_previous(
    previous: np.ndarray, current: np.ndarray, spectra: Spectra | None = None
) -> np.ndarray:
    """`previous` shifted by whole pixels onto `current` when the view moved between them, else
    `previous` itself (`shifted_onto`). `spectra`: as `estimate_shift`."""
    dx, dy, response = estimate_shift(previous, current, spectra)
    if (dx, dy) == (0, 0) or response < MIN_RESPONSE:
        return previous
    verified = _verified_shift(previous, current, dx, dy)
    if verified is None or verified == (0, 0):
        return previous
    return shifted_onto(previous, current, *verified)


class SequenceAligner:
    """`align_previous` for the pairs of one continuous grey sequence, each frame's `spectrum`
    computed once (speed round: a frame is the later image of one pair and the earlier one of a
    later pair, and its spectrum was computed twice). The same arithmetic on the same images:
    the aligned frames are bit for bit `align_previous`'s. Keeps the `keep` latest spectra (a
    pair's earlier frame is at most a flow gap back)."""

    def __init__(self, greys: Sequence[np.ndarray], keep: int = 8) -> None:
        self.greys = greys
        self.keep = keep
        self._spectra: dict[int, np.ndarray] = {}

    def align(self, earlier: int, current: int) -> np.ndarray:
        """`align_previous(greys[earlier], greys[current])`."""
        spectra = (self._spectrum(earlier), self._spectrum(current))
        return align_previous(self.greys[earlier], self.greys[current], spectra)

    def _spectrum(self, index: int) -> np.ndarray:
        if index not in self._spectra:
            self._spectra[index] = spectrum(self.greys[index])
            if len(self._spectra) > self.keep:
                del self._spectra[next(iter(self._spectra))]
        return self._spectra[index]


def shifted_onto(previous: np.ndarray, current: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """`previous` moved by (dx, dy) whole pixels, the strip it uncovers taken from `current`: the
    earlier frame never saw that strip (a real camera's new scenery), so it gives no evidence of
    motion there; replicating the earlier frame's edge instead would show flow along it."""
    h, w = previous.shape[:2]
    out = current.copy()
    out[max(0, dy) : h + min(0, dy), max(0, dx) : w + min(0, dx)] = previous[
        max(0, -dy) : h - max(0, dy), max(0, -dx) : w - max(0, dx)
    ]
    return out


def without_drift(flow: np.ndarray) -> np.ndarray:
    """`flow` ((H, W, 2)) less its median when that median (the view's global motion left after
    `align_previous`) is at least `MIN_DRIFT` long and the whole view moved alike
    (`moved_alike`), else `flow` itself (the same array)."""
    if surely_short_median(flow):
        return flow
    drift = np.median(flow.reshape(-1, 2), axis=0)
    if float(np.hypot(drift[0], drift[1])) < MIN_DRIFT or not moved_alike(flow, drift):
        return flow
    return flow - drift.astype(flow.dtype)


def surely_short_median(flow: np.ndarray) -> bool:
    """Whether the median `without_drift` takes (each component's, over the view) is certainly
    shorter than `MIN_DRIFT`, found by counting instead of sorting (speed round: the median cost
    0.4 ms a pair and a steady camera's never reaches the floor). If more than half of a
    component's values lie strictly within `_SURELY_SHORT` of zero, the one or two middle values
    of its sorted values do too, and so does their mean (rounding is monotone): the component's
    median is shorter than `_SURELY_SHORT`, and the drift (both components) shorter than
    `_SURELY_SHORT` x sqrt(2) < `MIN_DRIFT`. False says nothing: the median decides. For the
    finite flows the flow engines return (a NaN counts as outside and the median would be NaN)."""
    within = np.abs(flow.reshape(-1, 2)) < _SURELY_SHORT
    half = len(within) // 2  # counted per column: 8x faster than count_nonzero(axis=0)
    return np.count_nonzero(within[:, 0]) > half and np.count_nonzero(within[:, 1]) > half


def moved_alike(flow: np.ndarray, drift: np.ndarray) -> bool:
    """Whether each quadrant's median flow lies within `MAX_QUADRANT_SPREAD` of the whole view's
    median `drift`. A shaking camera moves all four quadrants alike; a walker, a crowd or a bus
    filling part of a close camera's view moves some and not the others, and its motion must not
    be taken for the camera's."""
    h, w = flow.shape[0] // 2, flow.shape[1] // 2
    for rows in (slice(0, h), slice(h, None)):
        for cols in (slice(0, w), slice(w, None)):
            quadrant = np.median(flow[rows, cols].reshape(-1, 2), axis=0)
            if float(np.hypot(*(quadrant - drift))) > MAX_QUADRANT_SPREAD:
                return False
    return True
