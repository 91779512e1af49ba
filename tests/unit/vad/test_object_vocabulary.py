"""Every detector's labels land in the one shared vocabulary."""

from __future__ import annotations

import pytest

from vad.object_vocabulary import COCO, OPEN_IMAGES, OTHER, VOCABULARY, shared_label


def test_vehicles_of_both_taxonomies_are_one_word() -> None:
    assert shared_label("Car", "open-images") == shared_label("Vehicle", "open-images")
    assert {shared_label(c, "coco") for c in ("car", "truck", "bus", "motorcycle")} == {"vehicle"}
    assert shared_label("Person", "open-images") == shared_label("person", "coco") == "person"


def test_unmapped_labels_are_other_and_unknown_taxonomies_refused() -> None:
    assert shared_label("toothbrush", "coco") == OTHER
    with pytest.raises(ValueError, match="unknown detector taxonomy"):
        shared_label("car", "imagenet")


def test_tables_only_use_vocabulary_words() -> None:
    assert set(COCO.values()) | set(OPEN_IMAGES.values()) <= set(VOCABULARY)
