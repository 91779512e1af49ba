"""Webhooks: incident events as signed HTTP deliveries, written in the transaction that caused
them and sent at least once with backoff.

Shared by the workers (which enqueue and deliver) and the API (which creates subscriptions,
signs secrets and redelivers), so it lives beside both rather than inside either. Imports no
api/, service/ or workers/ (pyproject.toml's import contracts).
"""
