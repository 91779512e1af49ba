"""Operators' verdicts on incidents and learning from the stored footage (issue 20).

A domain module beside db/ and frames/ rather than inside service/: the API
(`POST/DELETE /incidents/{id}/feedback`), the CLI (`vad feedback`) and the relearn schedule all
use it, and the API imports no service/ (pyproject.toml's import contracts). Imports no api/,
service/, workers/, webhooks/ or ingest/.
"""
