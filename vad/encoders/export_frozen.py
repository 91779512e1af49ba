"""Export the pulled TF model-zoo SSD (a frozen GraphDef) to ONNX without TensorFlow.

`vad models export ssd-mobilenetv2-coco` lands here: `vad/encoders/frozen_graph.py` cuts the
network out of the frozen pipeline (from the preprocessor's output to the box predictors' raw
outputs) and translates it; the manifest records what the cut removed, for the SSD plugin's
numpy post-processing (`vad/encoders/detectors/ssd.py`): the input normalisation, the anchor
generator and box coder parameters of the model's training config (`ssd_mobilenet_v2_coco`),
and the COCO label map (91 ids: 0 is background, ten ids COCO never used stay empty).
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

from vad.encoders.export import save_export
from vad.encoders.export_nanodet import COCO_CLASSES
from vad.encoders.export_tflite import MEDIAPIPE_BOX_CODER, MEDIAPIPE_OIDV4_ANCHORS
from vad.encoders.registry import weights_file
from vad.encoders.runtime import MANIFEST, ModelError

log = logging.getLogger(__name__)

# Where the network starts and ends inside the object-detection API's frozen graph.
START = "Preprocessor/sub"  # the resized frame, (x / 255) * 2 - 1
OUTPUTS = {"Squeeze": "raw_boxes", "concat_1": "class_logits"}
SIZE = 300
# The COCO ids (1-90) of the 80 classes, in COCO_CLASSES order; the others were never labelled.
COCO_IDS = (
    *range(1, 12), *range(13, 26), 27, 28, *range(31, 45), *range(46, 66), 67, 70,
    *range(72, 83), *range(84, 91),
)  # fmt: skip
UNUSED = "unused"
# ssd_mobilenet_v2_coco.config's anchor generator and box coder: the same parameters as
# MediaPipe's Open Images model (MediaPipe copied them from this config).
TF_ZOO_SSD_ANCHORS = {**MEDIAPIPE_OIDV4_ANCHORS, "input_size": SIZE}
TF_ZOO_BOX_CODER = MEDIAPIPE_BOX_CODER


def coco91_classes() -> list[str]:
    """The classifier's 91 outputs: background, then COCO ids 1-90 ("unused" where none)."""
    names = ["background"] + [UNUSED] * 90
    for coco_id, name in zip(COCO_IDS, COCO_CLASSES, strict=True):
        names[coco_id] = name
    return names


def export_frozen_ssd(entry, source: Path, out_dir: Path) -> Path:
    """downloads/<name> (frozen graph) -> encoders/<name> (model.onnx + manifest.json), via a
    staging folder so a failed export leaves the previous one intact."""
    from vad.encoders.frozen_graph import convert_frozen
    from vad.encoders.graphdef import GraphDefError

    graph_file = source / weights_file(entry)
    try:
        model = convert_frozen(graph_file, START, ["batch", SIZE, SIZE, 3], OUTPUTS, entry.name)
    except (OSError, GraphDefError) as error:
        raise ModelError(
            f"cannot convert {graph_file} ({error}); pull it again with "
            f"`vad models pull {entry.name}`"
        ) from error
    save_export(model, frozen_ssd_manifest(entry, graph_file, model), out_dir, MANIFEST)
    log.info("exported %s (ssd, COCO) to %s", entry.name, out_dir)
    return out_dir


def frozen_ssd_manifest(entry, graph_file: Path, model) -> dict:
    """What the SSD plugin needs besides the graph, checked against the graph's output shapes."""
    import onnx

    shapes = {
        o.name: [d.dim_value for d in o.type.tensor_type.shape.dim] for o in model.graph.output
    }
    classes = coco91_classes()
    if shapes["class_logits"][2] != len(classes) or shapes["raw_boxes"][2] != 4:
        raise ModelError(f"{graph_file.name}: unexpected SSD outputs {shapes}")
    return {
        "format": 1,
        "kind": "detector",
        "name": entry.name,
        "family": "ssd",
        "taxonomy": "coco",
        "source": f"{entry.source}: {graph_file.name}",
        "source_sha256": hashlib.sha256(graph_file.read_bytes()).hexdigest(),
        "licence": entry.licence,
        "image_size": SIZE,
        "input_layout": "NHWC",
        "mean": 127.5,
        "std": 127.5,
        "resize": "whole frame stretched to image_size x image_size (bilinear), RGB, "
        "(x - 127.5) / 127.5",
        "classes": classes,
        "background_class": 0,
        "unused_classes": [i for i, c in enumerate(classes) if c == UNUSED],
        "num_anchors": shapes["raw_boxes"][1],
        "anchors": TF_ZOO_SSD_ANCHORS,
        "box_coder": TF_ZOO_BOX_CODER,
        "box_order": "y_center, x_center, height, width",
        "scores": "sigmoid of the logits; class 0 (background) and unused ids ignored",
        "outputs": {"boxes": "raw_boxes", "scores": "class_logits"},
        "graph_cut": {"input": START, "outputs": OUTPUTS},
        "opset": model.opset_import[0].version,
        "files": {"model": "model.onnx"},
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "exporter": {"converter": "vad.encoders.frozen_graph (no TensorFlow)",
                     "onnx": onnx.__version__},
    }  # fmt: skip
