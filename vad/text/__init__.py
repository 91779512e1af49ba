"""Sentence embeddings for meaning-based incident search (numpy only: no torch at runtime)."""

from vad.text.minilm import SentenceEncoder, TextModelError, default_model_dir

__all__ = ["SentenceEncoder", "TextModelError", "default_model_dir"]
