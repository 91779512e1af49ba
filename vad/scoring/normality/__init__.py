"""Per-camera normality model: learns what normal motion looks like at each position of one fixed
camera from normal footage, then scores every frame in [0, 1] on a camera-independent scale."""

from vad.scoring.normality.calibration import TailCalibrator
from vad.scoring.normality.config import NormalityConfig
from vad.scoring.normality.features import FeatureFamily, FlowFamily, ShapeFamily, make_family
from vad.scoring.normality.model import NormalityModel, fit_normality_model
from vad.scoring.normality.smoothing import smooth_scores

__all__ = [
    "FeatureFamily",
    "FlowFamily",
    "NormalityConfig",
    "NormalityModel",
    "ShapeFamily",
    "TailCalibrator",
    "fit_normality_model",
    "make_family",
    "smooth_scores",
]
