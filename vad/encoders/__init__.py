"""Exported encoders run by ONNX Runtime: an image-text model (CLIP family) and a detector (YOLO).

Runtime modules here import numpy, OpenCV, onnxruntime and `tokenizers` only; torch, transformers
and ultralytics are needed solely by `vad.encoders.export` (the `export` extra).
"""
