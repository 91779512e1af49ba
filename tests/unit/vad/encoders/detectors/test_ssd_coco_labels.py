"""The TF model zoo's COCO label map as detector B's manifest states it: 91 classifier outputs,
background first, COCO's own ids (with the ten it never used), mapped to the shared vocabulary."""

from __future__ import annotations

from vad.encoders.export_frozen import UNUSED, coco91_classes
from vad.encoders.export_nanodet import COCO_CLASSES
from vad.object_vocabulary import shared_label


def test_coco_ids_as_the_classifier_orders_them() -> None:
    classes = coco91_classes()
    assert len(classes) == 91 and classes[0] == "background"
    assert classes[1] == "person" and classes[2] == "bicycle" and classes[8] == "truck"
    assert classes[90] == "toothbrush" and classes[88] == "teddy bear"
    unused = [i for i, c in enumerate(classes) if c == UNUSED]
    assert unused == [12, 26, 29, 30, 45, 66, 68, 69, 71, 83]
    assert [c for c in classes if c not in (UNUSED, "background")] == list(COCO_CLASSES)


def test_labels_reach_the_shared_vocabulary() -> None:
    classes = coco91_classes()
    assert shared_label(classes[8], "coco") == "vehicle"
    assert shared_label(classes[1], "coco") == "person"
    assert shared_label(UNUSED, "coco") == "other"
