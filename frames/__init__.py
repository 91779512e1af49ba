"""The frames log: how a kept frame travels through Kafka and comes back.

One owner for the record format (key and headers, `frames.record`), the producer, topic admin,
the reader and `read_window_frames`, the one way scoring, stage 2, clip export and key frames
read a camera's frames back. Camera ids are ints everywhere; the key bytes exist only here, at
the Kafka boundary. Imports no api/, service/ or workers/ (pyproject.toml's import contracts).
"""
