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
        VisionEncoderDecoderConfig,
        VisionEncoderDecoderModel,
        ViTConfig,
        ViTImageProcessor,
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


CHAT_TEMPLATE = (
    "{% for m in messages %}USER: {% if m['content'] is string %}{{ m['content'] }}{% else %}"
    "{% for c in m['content'] %}{% if c['type'] == 'image' %}<image>\n{% else %}{{ c['text'] }}"
    "{% endif %}{% endfor %}{% endif %}\n{% endfor %}{% if add_generation_prompt %}ASSISTANT:"
    "{% endif %}"
)


def tiny_chat_llm_dir(root: Path, seed: int = 0) -> Path:
    """Like tiny_llm_dir, with a chat template (the path instruction-tuned LLMs take)."""
    import torch
    from transformers import GPT2LMHeadModel

    torch.manual_seed(seed)
    tokenizer = tiny_tokenizer()
    tokenizer.chat_template = CHAT_TEMPLATE
    model = GPT2LMHeadModel(_gpt2_config(tokenizer)).eval()
    out = root / "chat-llm"
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def tiny_blip_dir(root: Path, seed: int = 0) -> Path:
    """A BLIP captioner (tiny ViT + BERT-style text decoder, WordPiece trained on UCA)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import (
        BertTokenizerFast,
        BlipConfig,
        BlipForConditionalGeneration,
        BlipImageProcessor,
        BlipProcessor,
    )

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.train_from_iterator(
        uca_sentences(), trainers.WordPieceTrainer(vocab_size=600, special_tokens=specials)
    )
    tokenizer = BertTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
        sep_token="[SEP]", mask_token="[MASK]",
    )  # fmt: skip
    small = {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2}
    config = BlipConfig(
        text_config={
            **small, "vocab_size": len(tokenizer), "intermediate_size": 64,
            "max_position_embeddings": 64, "bos_token_id": tokenizer.cls_token_id,
            "sep_token_id": tokenizer.sep_token_id, "pad_token_id": tokenizer.pad_token_id,
            "eos_token_id": tokenizer.sep_token_id,
        },
        vision_config={**small, "intermediate_size": 64, "image_size": 32, "patch_size": 8},
        projection_dim=32,
    )  # fmt: skip
    torch.manual_seed(seed)
    model = BlipForConditionalGeneration(config).eval()
    processor = BlipProcessor(
        image_processor=BlipImageProcessor(size={"height": 32, "width": 32}), tokenizer=tokenizer
    )
    out = root / "blip"
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out


def tiny_vlm_dir(root: Path, seed: int = 0) -> Path:
    """A LLaVA-style vision-language model (tiny CLIP vision tower + tiny Llama) with a chat
    template: the generic image-text-to-text path."""
    import torch
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    tokenizer = tiny_tokenizer()
    tokenizer.add_special_tokens({"additional_special_tokens": ["<image>"]})
    tokenizer.chat_template = CHAT_TEMPLATE
    vision = CLIPVisionConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        image_size=32, patch_size=8, projection_dim=32,
    )  # fmt: skip
    text = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )  # fmt: skip
    config = LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        vision_feature_layer=-1,
        vision_feature_select_strategy="default",
    )
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config).eval()
    processor = LlavaProcessor(
        image_processor=CLIPImageProcessor(
            size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
        ),
        tokenizer=tokenizer,
        patch_size=8,
        vision_feature_select_strategy="default",
        chat_template=CHAT_TEMPLATE,
        image_token="<image>",
        num_additional_image_tokens=1,
    )
    out = root / "vlm"
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out
