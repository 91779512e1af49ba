"""Export a pulled TFLite SSD detector to ONNX without torch or TensorFlow (runtime install).

`vad models export ssd-mobilenetv2-oidv4` lands here: the flatbuffer goes through vad's own
converter (`vad/encoders/tflite_onnx.py`, why a converter: see there), and the manifest records
what the graph does not contain: the label map, how frames are prepared, and the anchor and box
coder parameters MediaPipe's graph config (`object_detection_oid_v4_cpu.pbtxt`) gives the
post-processing that `vad/encoders/detectors/ssd.py` runs in numpy.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path

from vad.encoders.registry import weights_file
from vad.encoders.runtime import MANIFEST, ModelError
from vad.encoders.staging import staged_folder

log = logging.getLogger(__name__)

# MediaPipe's SsdAnchorsCalculator and TensorsToDetectionsCalculator options for this model.
MEDIAPIPE_OIDV4_ANCHORS = {
    "input_size": 300,
    "min_scale": 0.2,
    "max_scale": 0.95,
    "strides": [16, 32, 64, 128, 256, 512],
    "aspect_ratios": [1.0, 2.0, 0.5, 3.0, 0.3333],
    "offset": 0.5,
    "reduce_boxes_in_lowest_layer": True,
    "interpolated_scale_aspect_ratio": 1.0,
}
MEDIAPIPE_BOX_CODER = {"y_scale": 10.0, "x_scale": 10.0, "h_scale": 5.0, "w_scale": 5.0}


def export_ssd(entry, source: Path, out_dir: Path) -> Path:
    """downloads/<name> (label map + .tflite) -> encoders/<name> (model.onnx + manifest.json).

    Written to a staging folder and swapped in, so a failed export leaves the old one intact."""
    from vad.encoders.tflite_onnx import convert_tflite

    tflite_file = source / weights_file(entry)
    labels_file = source / next(f.save_as for f in entry.files if f.save_as.endswith(".txt"))
    classes = [line for line in labels_file.read_text().splitlines() if line.strip()]
    with staged_folder(out_dir) as tmp:
        signature = convert_tflite(tflite_file, tmp / "model.onnx")
        manifest = ssd_manifest(entry, tflite_file, classes, signature)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
    log.info("exported %s (ssd, %d classes) to %s", entry.name, len(classes), out_dir)
    return out_dir


def ssd_manifest(entry, tflite_file: Path, classes: list[str], signature: dict) -> dict:
    """What the SSD plugin needs besides the graph: checked against the graph's shapes."""
    boxes, scores = signature["outputs"]
    anchors, width = boxes["shape"][1], scores["shape"][2]
    if width != len(classes):
        raise ModelError(
            f"{tflite_file.name} scores {width} classes but its label map has {len(classes)}"
        )
    import onnx

    size = signature["inputs"][0]["shape"][1]
    return {
        "format": 1,
        "kind": "detector",
        "name": entry.name,
        "family": "ssd",
        "taxonomy": "open-images",
        "source": f"{entry.source}: {tflite_file.name}",
        "source_sha256": hashlib.sha256(tflite_file.read_bytes()).hexdigest(),
        "licence": entry.licence,
        "image_size": size,
        "input_layout": "NHWC",
        "mean": 127.5,
        "std": 127.5,
        "resize": "whole frame stretched to image_size x image_size (bilinear), RGB, "
        "(x - 127.5) / 127.5",
        "classes": classes,
        "background_class": 0,
        "num_anchors": anchors,
        "anchors": {**MEDIAPIPE_OIDV4_ANCHORS, "input_size": size},
        "box_coder": MEDIAPIPE_BOX_CODER,
        "box_order": "y_center, x_center, height, width",
        "scores": "sigmoid of the logits; class 0 (background) ignored",
        "outputs": {"boxes": boxes["name"], "scores": scores["name"]},
        "opset": 17,
        "files": {"model": "model.onnx"},
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "exporter": {"converter": "vad.encoders.tflite_onnx", "onnx": onnx.__version__},
    }
