"""Celery app and tasks, the Kafka-to-Celery dispatcher, and the ordered incident tracker."""
