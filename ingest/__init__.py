"""Camera ingest: read cameras, sample and prune frames, publish them to Kafka."""
