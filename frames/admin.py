"""Topic admin: create the frames topic and learn its identity.

The topic id names one incarnation of the log: an in-memory broker that restarted, or a topic
that was recreated, has a new id, so windows that store it never read stale offsets as if they
were the old frames.
"""

from __future__ import annotations

import time

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError


def ensure_topic(bootstrap: str, topic: str, partitions: int, timeout: float = 30.0) -> str:
    """Create the topic if missing and return its topic id (the log's identity)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
            break
        except Exception as error:  # noqa: BLE001 - broker still starting
            if time.monotonic() > deadline:
                raise ConnectionError(f"Kafka at {bootstrap} is not reachable: {error}") from error
            time.sleep(0.3)
    try:
        try:
            admin.create_topics([NewTopic(topic, partitions, 1)])
        except TopicAlreadyExistsError:
            pass
        return topic_identity(admin, topic, deadline)
    finally:
        admin.close()


def topic_identity(admin: KafkaAdminClient, topic: str, deadline: float) -> str:
    while True:
        described = admin.describe_topics([topic])[0]
        topic_id = str(described.get("topic_id") or "")
        if described.get("error_code", 0) == 0 and topic_id.strip("0-"):
            return topic_id
        if time.monotonic() > deadline:
            raise RuntimeError(f"topic {topic!r} has no id yet: {described}")
        time.sleep(0.2)
