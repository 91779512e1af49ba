"""`vad models export` for the image backbones (kind "image"), torch-free.

Reads the pulled checkpoint with the restricted unpickler (`checkpoint.py`), recognises the
family (`families.py`) and writes its graph with the `onnx` package (`mbconv.py`), so it runs
where `make run` installed only the runtime. The torch network definitions stay as the
reference the parity tests compare against.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import onnx

from vad.encoders.backbones.checkpoint import CheckpointError, load_state_dict
from vad.encoders.backbones.families import read_backbone
from vad.encoders.backbones.graph import OPSET
from vad.encoders.backbones.mbconv import to_onnx
from vad.encoders.runtime import MANIFEST, ModelError
from vad.encoders.staging import staged_folder

log = logging.getLogger(__name__)


def export_backbone(
    weights: Path, out_dir: Path, name: str | None = None, image_size: int | None = None
) -> Path:
    """Export pulled backbone weights to `out_dir`: image.onnx (dynamic batch, pooled features)
    and manifest.json (kind "image"). `image_size` defaults to the family's training size."""
    weights, out_dir = Path(weights), Path(out_dir)
    name = name or out_dir.name
    try:
        backbone = read_backbone(load_state_dict(weights))
    except (OSError, CheckpointError) as error:
        raise ModelError(
            f"cannot read {weights} as backbone weights ({error}); pull it again with "
            f"`vad models pull {name}`"
        ) from error
    size = int(image_size or backbone.image_size)
    net = backbone.network
    with staged_folder(out_dir) as tmp:
        onnx.save(to_onnx(net, size, name), str(tmp / "image.onnx"))
        manifest = {
            "format": 1,
            "kind": "image",
            "name": name,
            "family": net.family,
            "source": str(weights),
            "dim": net.dim,
            "image_size": size,
            "mean": list(backbone.mean),
            "std": list(backbone.std),
            "resize_mode": "squash",
            "resize": "whole image to image_size x image_size (bicubic), RGB, /255, (x-mean)/std",
            "opset": OPSET,
            "files": {"image": "image.onnx"},
            "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "exporter": {"onnx": onnx.__version__, "builder": "vad.encoders.backbones (no torch)"},
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
    log.info("exported %s (%s, dim %s, %spx) to %s", name, net.family, net.dim, size, out_dir)
    return out_dir
