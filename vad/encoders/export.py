"""Turn pulled weights into ONNX (the `export` extra: torch, transformers, ultralytics).

Imported only by `vad models export` and tests; nothing on the runtime path imports this module.
The CLI and the tests call the same functions, so what the tests check is what users run.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

from vad.encoders.runtime import MANIFEST, ModelError
from vad.encoders.staging import staged_folder

log = logging.getLogger(__name__)

OPSET = 17
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
SIGLIP_MEAN = SIGLIP_STD = (0.5, 0.5, 0.5)
_PAD_TOKENS = ("<|endoftext|>", "<pad>", "</s>")


def export_clip(source: Path, out_dir: Path, name: str | None = None) -> Path:
    """Export a pulled CLIP-family folder (config.json, weights, tokenizer) to `out_dir`:
    image.onnx, text.onnx (dynamic batch axis), tokenizer.json and manifest.json."""
    from transformers import AutoModel

    source, out_dir = Path(source), Path(out_dir)
    name = name or out_dir.name
    if not (source / "config.json").is_file():
        raise ModelError(f"{source} has no config.json; run `vad models pull {name}` first")
    model = AutoModel.from_pretrained(source).eval().float()
    family = model.config.model_type
    tokenizer = _tokenizer_json(source)
    pad_id = _pad_id(source, tokenizer)
    image_size, mean, std, resize_mode = _image_spec(source, model, family)
    length = int(model.config.text_config.max_position_embeddings)
    with_mask = family != "siglip"  # SigLIP was trained on max-length padding, without a mask
    with staged_folder(out_dir) as tmp:
        dim = _export_towers(model, tmp, image_size, length, pad_id, with_mask)
        tokenizer.save(str(tmp / "tokenizer.json"))
        scale = getattr(model, "logit_scale", None)
        manifest = {
            "format": 1,
            "kind": "clip",
            "name": name,
            "family": family,
            "source": str(source),
            "dim": dim,
            "image_size": image_size,
            "mean": list(mean),
            "std": list(std),
            "resize_mode": resize_mode,
            "resize": (
                "short side to image_size (bicubic), centre crop"
                if resize_mode == "crop"
                else "whole frame to image_size x image_size (bicubic)"
            )
            + ", RGB, /255, (x-mean)/std",
            "text_inputs": ["input_ids", "attention_mask"] if with_mask else ["input_ids"],
            "context_length": length,
            "pad_id": pad_id,
            "logit_scale": float(scale.detach().exp()) if scale is not None else 100.0,
            "opset": OPSET,
            "files": {"image": "image.onnx", "text": "text.onnx", "tokenizer": "tokenizer.json"},
            **_provenance(),
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
    log.info("exported %s (%s, dim %s) to %s", name, manifest["family"], dim, out_dir)
    return out_dir


def _export_towers(
    model, folder: Path, image_size: int, length: int, pad_id: int, with_mask: bool
) -> int:
    """Trace both towers with a batch of two (batch axis dynamic); returns the embedding size."""
    import torch

    image_tower, text_tower = _towers(model, with_mask)
    with torch.no_grad():
        pixels = torch.zeros(2, 3, image_size, image_size)
        _onnx(
            image_tower,
            (pixels,),
            folder / "image.onnx",
            ["pixel_values"],
            {"pixel_values": {0: "batch"}},
        )
        ids = torch.full((2, length), pad_id, dtype=torch.long)
        ids[:, 0] = 0
        mask = torch.ones(2, length, dtype=torch.long)
        names = ["input_ids", "attention_mask"] if with_mask else ["input_ids"]
        _onnx(
            text_tower,
            (ids, mask) if with_mask else (ids,),
            folder / "text.onnx",
            names,
            {name: {0: "batch"} for name in names},
        )
        return int(image_tower(pixels[:1]).shape[-1])


def _features(output: Any) -> Any:
    """transformers 5 returns a model output from get_*_features; 4.x returned the tensor."""
    return output if hasattr(output, "shape") else output.pooler_output


def _towers(model, with_mask: bool = True):
    """The two halves of the model as modules with plain tensor outputs (what ONNX traces)."""
    import torch

    class ImageTower(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, pixel_values):
            return _features(self.model.get_image_features(pixel_values=pixel_values))

    class TextTower(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask=None):
            mask = attention_mask if with_mask else None
            return _features(self.model.get_text_features(input_ids=input_ids, attention_mask=mask))

    return ImageTower().eval(), TextTower().eval()


def _onnx(module, args: tuple, path: Path, inputs: list[str], axes: dict) -> None:
    """TorchScript-based export: fixed text length, dynamic batch, no onnxscript needed."""
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shape checks frozen as constants
        torch.onnx.export(
            module.eval(),
            args,
            str(path),
            input_names=inputs,
            output_names=["embeds"],
            dynamic_axes={**axes, "embeds": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )


def _tokenizer_json(source: Path):
    """The fast tokenizer of the pulled folder, as a `tokenizers.Tokenizer`."""
    from tokenizers import Tokenizer

    path = source / "tokenizer.json"
    if path.is_file():
        return Tokenizer.from_file(str(path))
    from transformers import AutoTokenizer

    fast = AutoTokenizer.from_pretrained(source, use_fast=True)
    return fast.backend_tokenizer


def _pad_id(source: Path, tokenizer) -> int:
    """The pad token the model was trained with: tokenizer_config.json's, else a known name."""
    config = source / "tokenizer_config.json"
    names = list(_PAD_TOKENS)
    if config.is_file():
        pad = json.loads(config.read_text()).get("pad_token")
        pad = pad.get("content") if isinstance(pad, dict) else pad
        if pad:
            names.insert(0, pad)
    for token in names:
        token_id = tokenizer.token_to_id(token)
        if token_id is not None:
            return int(token_id)
    return 0


def _image_spec(source: Path, model, family: str) -> tuple[int, tuple, tuple, str]:
    """Input size, mean, std and resize mode: CLIP crops the centre after resizing the short
    side; SigLIP resizes the whole frame to a square (what their image processors do)."""
    size = int(model.config.vision_config.image_size)
    mean, std = (SIGLIP_MEAN, SIGLIP_STD) if family == "siglip" else (CLIP_MEAN, CLIP_STD)
    mode = "squash" if family == "siglip" else "crop"
    pre = source / "preprocessor_config.json"
    if pre.is_file():
        cfg = json.loads(pre.read_text())
        mean = tuple(cfg.get("image_mean", mean))
        std = tuple(cfg.get("image_std", std))
        if "do_center_crop" in cfg:
            mode = "crop" if cfg["do_center_crop"] else "squash"
    return size, mean, std, mode


def _provenance() -> dict:
    import torch
    import transformers

    return {
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "exporter": {"torch": torch.__version__, "transformers": transformers.__version__},
    }


def save_export(model, manifest: dict, out_dir: Path, manifest_name: str) -> None:
    """Write an ONNX model (`model.onnx`) and its manifest through a staging folder: the
    converters that build the graph in memory share this."""
    import onnx

    with staged_folder(out_dir) as tmp:
        onnx.save(model, str(tmp / "model.onnx"))
        (tmp / manifest_name).write_text(json.dumps(manifest, indent=2))


def yolo_class():
    """ultralytics' YOLO class, imported offline: exporting needs no network, and YOLO_OFFLINE
    stops its connectivity probe and usage events (set before the first import)."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    from ultralytics import YOLO

    return YOLO


def export_yolo(
    weights: str | Path, out_dir: Path, name: str | None = None, image_size: int = 640
) -> Path:
    """Export a YOLO detector (a pulled `.pt`, or an architecture yaml such as `yolo11n.yaml`
    for an untrained model) through ultralytics' own ONNX export, with a dynamic batch axis."""
    YOLO = yolo_class()  # noqa: N806 - the class, named as ultralytics names it

    out_dir = Path(out_dir)
    name = name or out_dir.name
    with staged_folder(out_dir) as tmp:
        model = YOLO(str(weights))
        # ultralytics writes the .onnx next to its source file; a copy in our folder keeps a yaml
        # model's export out of site-packages and makes the checkpoint part of the export.
        model.save(str(tmp / "model.pt"))
        model = YOLO(str(tmp / "model.pt"))
        onnx_path = Path(
            model.export(format="onnx", imgsz=image_size, dynamic=True, simplify=True, opset=OPSET)
        )
        (tmp / "model.pt").unlink()
        if onnx_path != tmp / "model.onnx":
            shutil.move(onnx_path, tmp / "model.onnx")
        names = model.names
        manifest = {
            "format": 1,
            "kind": "detector",
            "name": name,
            "family": "yolo",
            "taxonomy": "coco",  # labels -> vad/object_vocabulary.py
            "source": str(weights),
            "image_size": image_size,
            "stride": int(max(model.model.stride)),
            "resize": "letterbox to image_size (keep aspect, pad 114), RGB, /255",
            "classes": [names[i] for i in sorted(names)],
            "opset": OPSET,
            "files": {"model": "model.onnx"},
            **_provenance(),
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
    log.info("exported %s (yolo, %s classes) to %s", name, len(names), out_dir)
    return out_dir
