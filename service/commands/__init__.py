"""Sub-commands of `vad`, one module per concern."""
