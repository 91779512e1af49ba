"""Tiny stage-2 models built at test time (no downloads): a BPE tokenizer trained on real UCA
surveillance sentences, an image captioner (tiny ViT encoder + tiny GPT-2 decoder) and a causal LM
(tiny GPT-2), with seeded random weights, saved in Hugging Face format into a model folder so the
product loads them through its own code path.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import SHARED_DATA

UCA_TRAIN = SHARED_DATA / "uca" / "UCFCrime_Train.json"
SPECIALS = ["<|endoftext|>", "<pad>"]


def uca_sentences(limit: int = 4000) -> list[str]:
    data = json.loads(UCA_TRAIN.read_text())
    out: list[str] = []
    for video in data.values():
        out.extend(s.strip() for s in video.get("sentences", []) if s.strip())
        if len(out) >= limit:
            break
    return out[:limit]


def tiny_tokenizer(vocab_size: int = 600):
    """A byte-level BPE tokenizer trained on UCA sentences, wrapped for transformers."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(uca_sentences(), trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
        pad_token="<pad>",
    )


def _gpt2_config(tokenizer, **extra):
    from transformers import GPT2Config

    return GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=512,
        n_embd=32,
        n_layer=2,
        n_head=2,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **extra,
    )


def tiny_llm_dir(root: Path, seed: int = 0) -> Path:
    """A 2-layer GPT-2 causal LM + tokenizer under root/llm."""
    import torch
    from transformers import GPT2LMHeadModel

    torch.manual_seed(seed)
    tokenizer = tiny_tokenizer()
    model = GPT2LMHeadModel(_gpt2_config(tokenizer)).eval()
    out = root / "llm"
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def tiny_captioner_dir(root: Path, seed: int = 0) -> Path:
    """A VisionEncoderDecoder (tiny ViT at 32x32 + tiny GPT-2 with cross-attention) under
    root/captioner, with its image processor and tokenizer."""
    import torch
    from transformers import (
        ViTConfig,
        ViTImageProcessor,
        VisionEncoderDecoderConfig,
        VisionEncoderDecoderModel,
    )

    torch.manual_seed(seed)
    tokenizer = tiny_tokenizer()
    encoder = ViTConfig(
        image_size=32,
        patch_size=8,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
    )
    decoder = _gpt2_config(tokenizer, add_cross_attention=True, is_decoder=True)
    config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
    config.decoder_start_token_id = tokenizer.bos_token_id
    config.pad_token_id = tokenizer.pad_token_id
    config.eos_token_id = tokenizer.eos_token_id
    model = VisionEncoderDecoderModel(config=config).eval()
    out = root / "captioner"
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(out)
    return out
