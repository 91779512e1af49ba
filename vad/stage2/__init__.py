"""Stage 2: LAVAD-style captions, summary and LLM rating with an explanation, run only on the
windows stage 1 flags (Holmes-VAD's division of labour), so one GPU serves many cameras.

Pure: no Kafka, Celery or SQL here (`workers/stage2.py` feeds it and stores its results).
torch/transformers are imported lazily by `vad.stage2.hf` only; the endpoint backends need only
the standard library.
"""
