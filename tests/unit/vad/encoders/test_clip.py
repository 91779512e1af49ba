"""The exported tiny CLIP in ONNX Runtime matches torch on real Ped2 frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vad.encoders.clip import ClipEncoder

SENTENCES = ["someone climbs the fence", "a car drives on the walkway", "people walk"]


@pytest.fixture(scope="module")
def encoder(tiny_clip: Path) -> ClipEncoder:
    return ClipEncoder.load(tiny_clip)


@pytest.fixture(scope="module")
def torch_model(tiny_clip: Path):
    from transformers import CLIPModel

    manifest_source = Path(ClipEncoder.load(tiny_clip).manifest["source"])
    return CLIPModel.from_pretrained(manifest_source).eval()


def _torch_features(output):
    return (output if hasattr(output, "shape") else output.pooler_output).detach().numpy()


def test_image_tower_matches_torch_on_ped2(encoder, torch_model, ped2_frames) -> None:
    import torch

    pixels = encoder.image_spec.preprocess(ped2_frames)
    with torch.no_grad():
        expected = _torch_features(torch_model.get_image_features(torch.from_numpy(pixels)))
    got = encoder.image_features(pixels)
    assert np.abs(got - expected).max() < 1e-3


def test_text_tower_matches_torch(encoder, torch_model) -> None:
    import torch

    ids, mask = encoder.tokenize(SENTENCES)
    with torch.no_grad():
        expected = _torch_features(
            torch_model.get_text_features(
                input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)
            )
        )
    assert np.abs(encoder.text_features(ids, mask) - expected).max() < 1e-3


def test_embeddings_are_unit_float32_and_batch_independent(encoder, ped2_frames) -> None:
    encoder.batch_size = 5
    batched = encoder.embed_images(ped2_frames)
    single = np.concatenate([encoder.embed_images([f]) for f in ped2_frames[:3]])
    assert batched.shape == (len(ped2_frames), encoder.dim) and batched.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(batched[:3], single, atol=1e-5)
    texts = encoder.embed_texts(SENTENCES)
    assert texts.shape == (3, encoder.dim)
    np.testing.assert_allclose(np.linalg.norm(texts, axis=1), 1.0, atol=1e-5)


def test_tokenizer_pads_to_context_with_bos_and_eos(encoder) -> None:
    ids, mask = encoder.tokenize(["a fight", "x " * 200])
    assert ids.shape == (2, encoder.context_length)
    eos = encoder.tokenizer.token_to_id("<|endoftext|>")
    assert ids[0, 0] == encoder.tokenizer.token_to_id("<|startoftext|>")
    assert eos in ids[1]  # truncation keeps the closing token the text tower pools on
    assert mask[0].sum() < encoder.context_length and mask[1].sum() == encoder.context_length


def test_grey_and_odd_sized_frames_are_accepted(encoder) -> None:
    grey = np.full((100, 37), 128, np.uint8)
    wide = np.zeros((40, 300, 3), np.uint8)
    assert encoder.embed_images([grey, wide]).shape == (2, encoder.dim)


def test_siglip_exports_without_mask_squashes_frames_and_matches_torch(
    tmp_path_factory, ped2_frames
) -> None:
    from tests.support.tiny_models import need_export_extra, tiny_siglip_dir

    need_export_extra()
    import torch
    from transformers import SiglipModel

    encoder = ClipEncoder.load(tiny_siglip_dir(tmp_path_factory.mktemp("siglip")))
    assert encoder.manifest["family"] == "siglip"
    assert encoder.manifest["text_inputs"] == ["input_ids"]
    assert encoder.image_spec.mode == "squash" and encoder.image_spec.mean == (0.5, 0.5, 0.5)
    model = SiglipModel.from_pretrained(encoder.manifest["source"]).eval()
    pixels = encoder.image_spec.preprocess(ped2_frames)
    ids, _ = encoder.tokenize(SENTENCES)
    with torch.no_grad():
        image = _torch_features(model.get_image_features(pixel_values=torch.from_numpy(pixels)))
        text = _torch_features(model.get_text_features(input_ids=torch.from_numpy(ids)))
    assert np.abs(encoder.image_features(pixels) - image).max() < 1e-3
    assert np.abs(encoder.text_features(ids, np.ones_like(ids)) - text).max() < 1e-3
    assert encoder.embed_images(ped2_frames[:2]).shape == (2, encoder.dim)
