"""The REST API: FastAPI app factory (`api.app.create_app`), token auth, signed webhooks and
Prometheus metrics.

Imports nothing on its own, so `api.settings` (part of the one settings object) loads without
FastAPI.
"""
