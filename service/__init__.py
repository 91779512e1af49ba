"""The `vad` command line and the embedded stack supervisor (orchestration; no domain logic)."""
