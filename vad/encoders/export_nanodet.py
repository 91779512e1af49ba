"""Export the pulled NanoDet TF.js graph to ONNX without TensorFlow (runtime install).

`vad models export nanodet` lands here: the graph goes through vad's TF.js converter
(`vad/encoders/tfjs.py`); the manifest records what the graph does not say - the COCO class
order, how frames are prepared, and which output is which level's class scores or box
distributions - for the post-processing `vad/encoders/detectors/nanodet.py` runs in numpy.
Outputs are matched to levels by their shapes (cells = (size / stride)^2), not by their names,
which onnx-tf numbered arbitrarily.
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

from vad.encoders.export import save_export
from vad.encoders.registry import weights_file
from vad.encoders.runtime import MANIFEST, ModelError

log = logging.getLogger(__name__)

STRIDES = (8, 16, 32)
# NanoDet's training normalisation (its configs' `normalize`), BGR order, as cv2 reads frames.
BGR_MEAN = (103.53, 116.28, 123.675)
BGR_STD = (57.375, 57.12, 58.395)

# NanoDet's (and COCO detection's) 80 classes in the order its heads score them.
COCO_CLASSES = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich",
    "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote",
    "keyboard", "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book",
    "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush",
)  # fmt: skip


def export_nanodet(entry, source: Path, out_dir: Path) -> Path:
    """downloads/<name> (graph json + weights) -> encoders/<name> (model.onnx + manifest)."""
    from vad.encoders.tfjs import TfjsError, convert

    model_json = source / weights_file(entry)
    try:
        model = convert(model_json, entry.name)
    except (OSError, TfjsError, KeyError, ValueError) as error:
        raise ModelError(
            f"cannot convert {model_json} ({error}); pull it again with "
            f"`vad models pull {entry.name}`"
        ) from error
    save_export(model, nanodet_manifest(entry, model_json, model), out_dir, MANIFEST)
    log.info("exported %s (nanodet, %d classes) to %s", entry.name, len(COCO_CLASSES), out_dir)
    return out_dir


def output_levels(outputs: dict[str, list[int]], size: int, classes: int) -> list[dict]:
    """Per stride, the names of its class-score and box-distribution outputs, found by shape
    ((1, cells, classes) and (1, cells, 4 * bins)); an unexpected graph is an error."""
    levels = []
    for stride in STRIDES:
        cells = (size // stride) ** 2
        mine = {n: s for n, s in outputs.items() if len(s) == 3 and s[1] == cells}
        scores = [n for n, s in mine.items() if s[2] == classes]
        boxes = [n for n, s in mine.items() if s[2] != classes and s[2] % 4 == 0]
        if len(scores) != 1 or len(boxes) != 1:
            raise ModelError(
                f"the NanoDet graph has no single score and box output for stride {stride} "
                f"({cells} cells): outputs {outputs}"
            )
        bins = mine[boxes[0]][2] // 4
        levels.append({"stride": stride, "scores": scores[0], "boxes": boxes[0], "bins": bins})
    return levels


def nanodet_manifest(entry, model_json: Path, model) -> dict:
    """What the NanoDet plugin needs besides the graph, checked against the graph's shapes."""
    import onnx

    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    if len(dims) != 4 or dims[1] != 3 or dims[2] != dims[3]:
        raise ModelError(f"{model_json.name}: expected a (1, 3, S, S) input, got {dims}")
    size = dims[2]
    outputs = {
        o.name: [d.dim_value for d in o.type.tensor_type.shape.dim] for o in model.graph.output
    }
    weights = model_json.with_suffix(".bin")
    return {
        "format": 1,
        "kind": "detector",
        "name": entry.name,
        "family": "nanodet",
        "taxonomy": "coco",
        "source": f"{entry.source}: {model_json.name} + {weights.name}",
        "source_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
        "licence": entry.licence,
        "image_size": size,
        "input_layout": "NCHW",
        "mean": list(BGR_MEAN),
        "std": list(BGR_STD),
        "resize": "whole frame stretched to image_size x image_size (bilinear), BGR, "
        "(x - mean) / std per channel",
        "classes": list(COCO_CLASSES),
        "levels": output_levels(outputs, size, len(COCO_CLASSES)),
        "scores": "per class, sigmoid already applied in the graph",
        "boxes": "per side (left, top, right, bottom) a distribution over `bins` distances "
        "0..bins-1 in strides: softmax, expectation, times the stride, from the cell centre",
        "opset": model.opset_import[0].version,
        "files": {"model": "model.onnx"},
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "exporter": {"converter": "vad.encoders.tfjs (no TensorFlow)", "onnx": onnx.__version__},
    }
