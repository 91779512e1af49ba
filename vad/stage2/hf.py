"""transformers backends, run in process from a model folder (torch/transformers imported lazily:
they are in the `export` extra, not on the runtime path)."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vad.stage2.backends import BackendUnavailable, cut_at_stop
from vad.stage2.prompts import Message, plain_text

INSTALL_HINT = "install them with `pip install 'vad-service[export]'` (torch + transformers)"


def transformers_missing() -> str | None:
    """Why the in-process backends cannot run here, or None."""
    absent = [m for m in ("torch", "transformers") if importlib.util.find_spec(m) is None]
    if absent:
        return f"{' and '.join(absent)} not installed: {INSTALL_HINT}"
    return None


def model_folder_problem(folder: Path) -> str | None:
    if not (folder / "config.json").is_file():
        return f"no transformers model at {folder} (config.json missing)"
    return None


def _require(folder: Path) -> None:
    problem = transformers_missing() or model_folder_problem(folder)
    if problem:
        raise BackendUnavailable(problem)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def _rgb(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image[:, :, ::-1])


def _device(torch) -> str:
    """The GPU when there is one (a stage-2 worker on a GPU node serves many cameras), else CPU."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def _model_type(folder: Path) -> str:
    return str(json.loads((folder / "config.json").read_text()).get("model_type", ""))


class TransformersCaptioner:
    """An image-to-text model: VisionEncoderDecoder (ViT-GPT2 style), BLIP, or any
    image-text-to-text VLM whose processor has a chat template (prompted with the caption
    question)."""

    def __init__(self, folder: Path) -> None:
        _require(folder)
        import torch
        import transformers as tf

        self.torch = torch
        self.name = f"transformers:{folder.name}"
        self.kind = _model_type(folder)
        if self.kind == "vision-encoder-decoder":
            self.model = tf.VisionEncoderDecoderModel.from_pretrained(folder)
            self.images = tf.AutoImageProcessor.from_pretrained(folder)
            self.tokenizer = tf.AutoTokenizer.from_pretrained(folder)
        elif self.kind == "blip":
            self.model = tf.BlipForConditionalGeneration.from_pretrained(folder)
            self.processor = tf.AutoProcessor.from_pretrained(folder)
        else:
            self.model = tf.AutoModelForImageTextToText.from_pretrained(folder)
            self.processor = tf.AutoProcessor.from_pretrained(folder)
        self.device = _device(torch)
        self.model.to(self.device).eval()

    def caption(self, images: list[np.ndarray], prompt: str, max_tokens: int) -> list[str]:
        if not images:
            return []
        with self.torch.inference_mode():
            if self.kind == "vision-encoder-decoder":
                return self._encoder_decoder(images, max_tokens)
            if self.kind == "blip":
                return self._blip(images, max_tokens)
            return [self._vlm(image, prompt, max_tokens) for image in images]

    def _generate_args(self, max_tokens: int) -> dict:
        # min_new_tokens: an empty caption says nothing; greedy decoding for repeatability
        return {"max_new_tokens": max_tokens, "min_new_tokens": 2, "do_sample": False}

    def _encoder_decoder(self, images: list[np.ndarray], max_tokens: int) -> list[str]:
        pixels = self.images(images=[_rgb(i) for i in images], return_tensors="pt").pixel_values
        out = self.model.generate(pixels.to(self.device), **self._generate_args(max_tokens))
        return [t.strip() for t in self.tokenizer.batch_decode(out, skip_special_tokens=True)]

    def _blip(self, images: list[np.ndarray], max_tokens: int) -> list[str]:
        inputs = self.processor(images=[_rgb(i) for i in images], return_tensors="pt")
        inputs = inputs.to(self.device)
        out = self.model.generate(**inputs, **self._generate_args(max_tokens))
        return [t.strip() for t in self.processor.batch_decode(out, skip_special_tokens=True)]

    def _vlm(self, image: np.ndarray, prompt: str, max_tokens: int) -> str:
        messages = [
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}
        ]
        text = self.processor.apply_chat_template(messages, add_generation_prompt=True)
        inputs = self.processor(images=[_rgb(image)], text=[text], return_tensors="pt")
        inputs = inputs.to(self.device)
        out = self.model.generate(**inputs, **self._generate_args(max_tokens))
        new = out[:, inputs["input_ids"].shape[1] :]
        return self.processor.batch_decode(new, skip_special_tokens=True)[0].strip()


class TransformersLLM:
    """A causal LM. Free text by greedy decoding; a constrained answer by scoring every allowed
    answer's likelihood (followed by end-of-text) and taking the most likely, so the model can
    only ever say one of them."""

    def __init__(self, folder: Path) -> None:
        _require(folder)
        import torch
        import transformers as tf

        self.torch = torch
        self.name = f"transformers:{folder.name}"
        self.tokenizer = tf.AutoTokenizer.from_pretrained(folder)
        self.device = _device(torch)
        self.model = tf.AutoModelForCausalLM.from_pretrained(folder).to(self.device).eval()
        self.max_positions = int(getattr(self.model.config, "max_position_embeddings", 0) or 0)

    def _prompt_ids(self, dialogue: Sequence[Message], room: int) -> list[int]:
        if getattr(self.tokenizer, "chat_template", None):
            text = self.tokenizer.apply_chat_template(
                list(dialogue), add_generation_prompt=True, tokenize=False
            )  # rendered, then tokenized: the template already holds any special tokens
            ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        else:
            ids = self.tokenizer(plain_text(dialogue))["input_ids"]
        if self.max_positions and len(ids) + room > self.max_positions:
            ids = ids[-(self.max_positions - room) :]  # keep the question at the end
        return ids

    def generate(
        self, dialogue: Sequence[Message], max_tokens: int, stop: Sequence[str] = ()
    ) -> str:
        ids = self._prompt_ids(dialogue, max_tokens)
        until = {"stop_strings": list(stop), "tokenizer": self.tokenizer} if stop else {}
        inputs = self.torch.tensor([ids], device=self.device)
        pad = self.tokenizer.pad_token_id
        with self.torch.inference_mode():
            out = self.model.generate(
                inputs,
                attention_mask=self.torch.ones_like(inputs),
                max_new_tokens=max_tokens,
                do_sample=False,
                pad_token_id=pad if pad is not None else self.tokenizer.eos_token_id,
                **until,
            )
        text = self.tokenizer.decode(out[0, len(ids) :], skip_special_tokens=True)
        return cut_at_stop(text, stop).strip()

    def choose(self, dialogue: Sequence[Message], choices: list[str]) -> str:
        endings = [self._choice_ids(c) for c in choices]
        ids = self._prompt_ids(dialogue, max(len(e) for e in endings))
        logprobs = self._sequence_logprobs(ids, endings)
        return choices[int(np.argmax(logprobs))]

    def _choice_ids(self, choice: str) -> list[int]:
        ids = self.tokenizer(" " + choice, add_special_tokens=False)["input_ids"]
        eos = self.tokenizer.eos_token_id
        return ids + ([eos] if eos is not None else [])

    def _sequence_logprobs(self, prompt: list[int], endings: list[list[int]]) -> np.ndarray:
        torch = self.torch
        width = len(prompt) + max(len(e) for e in endings)
        pad = self.tokenizer.pad_token_id or 0
        batch = torch.full((len(endings), width), pad, dtype=torch.long)
        mask = torch.zeros_like(batch)
        for row, ending in enumerate(endings):
            seq = prompt + ending
            batch[row, : len(seq)] = torch.tensor(seq)
            mask[row, : len(seq)] = 1
        with torch.inference_mode():
            logits = self.model(
                input_ids=batch.to(self.device), attention_mask=mask.to(self.device)
            ).logits.float()
        logp = torch.log_softmax(logits, dim=-1).cpu()
        totals = []
        for row, ending in enumerate(endings):
            positions = range(len(prompt) - 1, len(prompt) - 1 + len(ending))
            pairs = zip(positions, ending, strict=True)
            totals.append(sum(float(logp[row, p, t]) for p, t in pairs))
        return np.asarray(totals)
