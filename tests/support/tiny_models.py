"""Tiny encoders built at test time, without any download, exported by the production code path.

`tiny_clip_dir` builds a small CLIPModel from a config (seeded random weights) and a real
CLIP-style BPE tokenizer trained here on UCA captions, writes them as a pulled Hugging Face folder
and exports it with `vad.encoders.export.export_clip` - the function `vad models export` calls.
`tiny_yolo_dir` does the same for an untrained YOLO11n built from its yaml, `tiny_mobilenet_dir` for
a MobileNetV2 with random weights. Each returns an exported model folder (loadable by
`ClipEncoder.load` / `Detector.load` / `ImageEncoder.load`) and reuses it when called again on the
same folder.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
UCA_TRAIN = SHARED_DATA / "uca" / "UCFCrime_Train.json"
BOS, EOS = "<|startoftext|>", "<|endoftext|>"
CONTEXT = 32
IMAGE_SIZE = 64
_FALLBACK = [
    "a man walks along the sidewalk",
    "two people fight in the street",
    "a car drives on the walkway",
    "someone climbs the fence",
    "a cyclist rides through a crowd of pedestrians",
    "a person falls down and lies on the ground",
]


def need_export_extra(*modules: str) -> None:
    """Skip locally / fail in CI when the `export` extra (torch, transformers...) is absent."""
    import importlib.util

    from tests.support.requirements import missing

    for module in modules or ("torch", "transformers"):
        if importlib.util.find_spec(module) is None:
            missing(f"{module} (the `export` extra) is needed to build tiny test models")


def captions(limit: int = 4000) -> Iterator[str]:
    """Real surveillance captions (UCA) when the shared data is present, else a few fixed ones."""
    if UCA_TRAIN.is_file():
        count = 0
        for video in json.loads(UCA_TRAIN.read_text()).values():
            for sentence in video["sentences"]:
                yield sentence
                count += 1
                if count >= limit:
                    return
    else:
        yield from _FALLBACK


def train_tokenizer(vocab_size: int = 1000):
    """A byte-level BPE with CLIP's special tokens, lower-casing and <bos> ... <eos> template."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from tokenizers.trainers import BpeTrainer

    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[BOS, EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(captions(), trainer=trainer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A {EOS}",
        special_tokens=[(BOS, tokenizer.token_to_id(BOS)), (EOS, tokenizer.token_to_id(EOS))],
    )
    return tokenizer


def tiny_clip_config(tokenizer, width: int = 32, layers: int = 2, image_size: int = IMAGE_SIZE):
    from transformers import CLIPConfig

    bos, eos = tokenizer.token_to_id(BOS), tokenizer.token_to_id(EOS)
    return CLIPConfig(
        text_config={
            "vocab_size": tokenizer.get_vocab_size(),
            "hidden_size": width,
            "intermediate_size": width * 2,
            "num_hidden_layers": layers,
            "num_attention_heads": 2,
            "max_position_embeddings": CONTEXT,
            "bos_token_id": bos,
            "eos_token_id": eos,
            "pad_token_id": eos,
        },
        vision_config={
            "hidden_size": width,
            "intermediate_size": width * 2,
            "num_hidden_layers": layers,
            "num_attention_heads": 2,
            "image_size": image_size,
            "patch_size": 16,
        },
        projection_dim=width,
    )


def write_pulled_clip(folder: Path, seed: int = 0) -> Path:
    """A folder shaped like `vad models pull` leaves a Hugging Face CLIP: config, weights,
    tokenizer.json."""
    import torch
    from transformers import CLIPModel

    tokenizer = train_tokenizer()
    torch.manual_seed(seed)
    model = CLIPModel(tiny_clip_config(tokenizer)).eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save(str(folder / "tokenizer.json"))
    return folder


def tiny_clip_dir(tmp_dir: Path) -> Path:
    """An exported tiny CLIP under `tmp_dir` (built once per folder), ready for ClipEncoder.load."""
    return _exported_clip_family(Path(tmp_dir), "tiny-clip", write_pulled_clip)


def _exported_clip_family(tmp_dir: Path, name: str, write_pulled) -> Path:
    """Pull-shaped checkpoint written by `write_pulled`, exported by `vad models export`'s code."""
    from vad.encoders.export import export_clip

    out = tmp_dir / "encoders" / name
    if (out / "manifest.json").is_file():
        return out
    return export_clip(write_pulled(tmp_dir / "downloads" / name), out, name=name)


def tiny_yolo_dir(tmp_dir: Path) -> Path:
    """An exported untrained YOLO11n under `tmp_dir` (built once per folder), for Detector.load."""
    from vad.encoders.export import export_yolo

    out = Path(tmp_dir) / "encoders" / "tiny-yolo"
    if (out / "manifest.json").is_file():
        return out
    pulled = write_pulled_yolo(Path(tmp_dir) / "downloads" / "tiny-yolo")
    return export_yolo(pulled, out, name="tiny-yolo", image_size=160)


def write_pulled_yolo(folder: Path, seed: int = 0) -> Path:
    """A checkpoint shaped like a pulled `yolo11n.pt`: YOLO11n from its yaml, seeded random
    weights (ultralytics builds it offline)."""
    import torch

    from vad.encoders.export import yolo_class

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    path = folder / "model.pt"
    yolo_class()("yolo11n.yaml").save(str(path))
    return path


def write_pulled_siglip(folder: Path, seed: int = 0, width: int = 32) -> Path:
    """A tiny SigLIP laid out like a pulled Hugging Face folder (same BPE tokenizer as the tiny
    CLIP: the real SigLIP SentencePiece vocabulary is not needed to test the export path)."""
    import torch
    from transformers import SiglipConfig, SiglipModel

    tokenizer = train_tokenizer()
    eos = tokenizer.token_to_id(EOS)
    tower = {
        "hidden_size": width,
        "intermediate_size": width * 2,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
    }
    config = SiglipConfig(
        text_config={
            **tower,
            "vocab_size": tokenizer.get_vocab_size(),
            "max_position_embeddings": CONTEXT,
            "pad_token_id": eos,
            "eos_token_id": eos,
            "bos_token_id": tokenizer.token_to_id(BOS),
        },
        vision_config={**tower, "image_size": IMAGE_SIZE, "patch_size": 16},
    )
    torch.manual_seed(seed)
    folder.mkdir(parents=True, exist_ok=True)
    SiglipModel(config).eval().save_pretrained(folder)
    tokenizer.save(str(folder / "tokenizer.json"))
    return folder


def tiny_siglip_dir(tmp_dir: Path) -> Path:
    """An exported tiny SigLIP under `tmp_dir` (built once per folder), for ClipEncoder.load."""
    return _exported_clip_family(Path(tmp_dir), "tiny-siglip", write_pulled_siglip)


def write_pulled_mobilenet(folder: Path, seed: int = 0) -> Path:
    """A state dict shaped like the pulled MobileNetV2 ImageNet weights (the full network, seeded
    random weights and batch-norm statistics), at downloads/<name>/weights.pt."""
    import torch

    from vad.encoders.mobilenet import MobileNetV2Features

    torch.manual_seed(seed)
    model = MobileNetV2Features()
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):  # non-trivial statistics to export
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "weights.pt"
    torch.save(model.state_dict(), path)
    return path


def tiny_mobilenet_dir(tmp_dir: Path, image_size: int = IMAGE_SIZE) -> Path:
    """An exported MobileNetV2 (random weights, small input size) under `tmp_dir`, built once per
    folder, ready for ImageEncoder.load: the appearance model's default encoder kind."""
    from vad.encoders.backbones.export import export_backbone

    out = Path(tmp_dir) / "encoders" / "tiny-mobilenet"
    if (out / "manifest.json").is_file():
        return out
    pulled = write_pulled_mobilenet(Path(tmp_dir) / "downloads" / "tiny-mobilenet")
    return export_backbone(pulled, out, name="tiny-mobilenet", image_size=image_size)
