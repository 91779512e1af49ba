"""The REST API: FastAPI app factory, token auth, signed webhooks and Prometheus metrics."""

from api.app import create_app

__all__ = ["create_app"]
