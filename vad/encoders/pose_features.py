"""Per-person pose features: a person's keypoints as a fixed-length vector, independent of where
the person is in the frame and how large they appear.

Pure numpy, for a model of normal postures learned per camera (the object model may use it
later; nothing scores with it yet). Keypoints are centred on the person's box and divided by
its longer side, so the vector keeps the pose's proportions (a person lying down stays wider
than tall) but not its position or scale; keypoints the estimator is unsure of are zeroed and
flagged, so a missing wrist is not mistaken for one at the box centre.
"""

from __future__ import annotations

import numpy as np

from vad.encoders.pose import KEYPOINTS

FEATURE_NAMES: tuple[str, ...] = tuple(
    f"{k}_{part}" for k in KEYPOINTS for part in ("x", "y", "seen")
)  # fmt: skip


def pose_features(
    keypoints: np.ndarray, box: tuple[float, float, float, float], min_score: float = 0.2
) -> np.ndarray:
    """(17, 3) keypoints (x, y in pixels, score) of one person and their box (x1, y1, x2, y2,
    pixels) -> float32 vector of `FEATURE_NAMES`: per keypoint (x - box centre) / longer side,
    (y - box centre) / longer side (about -0.5..0.5 inside the box) and 1.0 if its score is at
    least `min_score`, else zeros for all three."""
    points = np.asarray(keypoints, np.float32)
    if points.shape != (len(KEYPOINTS), 3):
        raise ValueError(f"expected ({len(KEYPOINTS)}, 3) keypoints, got {points.shape}")
    x1, y1, x2, y2 = (float(v) for v in box)
    side = max(x2 - x1, y2 - y1)
    if not side > 0:
        raise ValueError(f"empty person box {box}")
    seen = points[:, 2] >= min_score
    centre = np.array([(x1 + x2) / 2, (y1 + y2) / 2], np.float32)
    xy = (points[:, :2] - centre) / side
    out = np.concatenate([xy, seen[:, None].astype(np.float32)], 1)
    out[~seen] = 0.0
    return out.ravel()
