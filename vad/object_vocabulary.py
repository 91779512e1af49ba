"""The shared object vocabulary: the class names rules, the object model and the API speak.

Detectors are trained on different label sets (COCO's 80 classes, an Open Images subset, ...).
A rule such as "no vehicle on the walkway" or an object model learned with one detector must not
depend on whether that detector says "truck", "Car" or "Vehicle", so every detector maps its own
labels into this small vocabulary through the table of its taxonomy (named in the model's
manifest). A label without an entry becomes `OTHER`: still reported, never silently dropped.
The detector's own label travels along as `Detection.source_label`.
"""

from __future__ import annotations

PERSON = "person"
BICYCLE = "bicycle"
VEHICLE = "vehicle"  # motor vehicles on roads: car, truck, bus, motorcycle, train
ANIMAL = "animal"
BAG = "bag"
SKATEBOARD = "skateboard"
SPORTS_GEAR = "sports gear"
FOOTWEAR = "footwear"
FURNITURE = "furniture"
ELECTRONICS = "electronics"
TABLEWARE = "tableware"
OTHER = "other"

VOCABULARY = (
    PERSON,
    BICYCLE,
    VEHICLE,
    ANIMAL,
    BAG,
    SKATEBOARD,
    SPORTS_GEAR,
    FOOTWEAR,
    FURNITURE,
    ELECTRONICS,
    TABLEWARE,
    OTHER,
)


def _table(groups: dict[str, tuple[str, ...]]) -> dict[str, str]:
    return {label: shared for shared, labels in groups.items() for label in labels}


COCO = _table(
    {
        PERSON: ("person",),
        BICYCLE: ("bicycle",),
        VEHICLE: ("car", "motorcycle", "bus", "truck", "train"),
        ANIMAL: (
            "bird",
            "cat",
            "dog",
            "horse",
            "sheep",
            "cow",
            "elephant",
            "bear",
            "zebra",
            "giraffe",
        ),
        BAG: ("backpack", "handbag", "suitcase"),
        SKATEBOARD: ("skateboard",),
        SPORTS_GEAR: (
            "frisbee",
            "skis",
            "snowboard",
            "sports ball",
            "kite",
            "baseball bat",
            "baseball glove",
            "surfboard",
            "tennis racket",
        ),
        FURNITURE: ("bench", "chair", "couch", "bed", "dining table", "toilet"),
        ELECTRONICS: ("tv", "laptop", "mouse", "remote", "keyboard", "cell phone"),
        TABLEWARE: ("bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl"),
    }
)

# The 23 Open Images v4 classes of MediaPipe's SSD-MobileNetV2 (index 0, "???", is background).
# "Stationary bicycle" is what that model calls many real bicycles seen from the side.
OPEN_IMAGES = _table(
    {
        PERSON: ("Person",),
        BICYCLE: ("Bicycle", "Stationary bicycle"),
        VEHICLE: ("Car", "Vehicle"),
        ANIMAL: ("Cattle", "Cat", "Dog"),
        FOOTWEAR: ("Boot", "Footwear", "High heels"),
        FURNITURE: ("Chair", "Desk", "Table"),
        ELECTRONICS: ("Laptop", "Computer mouse", "Computer monitor", "Camera"),
        TABLEWARE: ("Mug", "Coffee cup", "Bottle"),
    }
)

TAXONOMIES: dict[str, dict[str, str]] = {"coco": COCO, "open-images": OPEN_IMAGES}


def shared_label(label: str, taxonomy: str) -> str:
    """The vocabulary word for a detector's own `label` ("Car" in Open Images -> "vehicle")."""
    if taxonomy not in TAXONOMIES:
        known = ", ".join(TAXONOMIES)
        raise ValueError(f"unknown detector taxonomy {taxonomy!r} (known: {known})")
    return TAXONOMIES[taxonomy].get(label, OTHER)
