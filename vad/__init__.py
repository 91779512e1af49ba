"""Video-understanding core: frame types, codecs, scorers, incident logic.

Pure: no Kafka, Celery or SQL.
"""
