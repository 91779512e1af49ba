"""The frames log on real Apache Kafka (KRaft, on disk): records and the topic id survive a clean
restart and a SIGKILL, which the in-memory embedded broker cannot promise."""

from __future__ import annotations

import time

import pytest

from tests.support.kafka_server import KafkaServer, kafka_unavailable_reason
from tests.support.requirements import missing

pytestmark = pytest.mark.integration

TOPIC = "frames-real-kafka"
FRAME = 3 * 1024 * 1024  # larger than Kafka's 1 MiB default: message.max.bytes must be raised


@pytest.fixture(scope="module")
def kafka(tmp_path_factory):
    reason = kafka_unavailable_reason()
    if reason:
        missing(reason)
    server = KafkaServer(tmp_path_factory.mktemp("kafka"))
    server.start()
    print(f"\nKafka {server.version} started in {server.start_seconds:.1f} s (format included)")
    yield server
    server.stop()


def _produce(bootstrap: str, partition: int, count: int, start: int = 0) -> list[int]:
    from kafka import KafkaProducer

    from frames.record import camera_key

    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", max_request_size=8 * 1024 * 1024
    )
    try:
        offsets = []
        for i in range(start, start + count):
            value = bytes([i % 256]) * (FRAME if i == start else 1000 + i)
            future = producer.send(
                TOPIC,
                key=camera_key(i),
                value=value,
                partition=partition,
                headers=[("camera", b"cam-1"), ("seq", str(i).encode())],
            )
            offsets.append(future.get(timeout=30).offset)
        return offsets
    finally:
        producer.close()


def _check(bootstrap: str, partition: int, first: int, last: int, start: int = 0) -> None:
    from frames.reader import FrameReader

    reader = FrameReader(bootstrap)
    try:
        records = reader.read_range(TOPIC, partition, first, last, timeout=30)
    finally:
        reader.close()
    assert [r.offset for r in records] == list(range(first, last + 1))
    for n, record in enumerate(records):
        i = start + n
        assert record.camera_id == i  # the key, read back as the camera id it names
        assert record.headers == [("camera", b"cam-1"), ("seq", str(i).encode())]
        assert record.value == bytes([i % 256]) * (FRAME if i == start else 1000 + i)


def test_records_and_topic_id_survive_restart_and_kill(kafka):
    from frames.admin import ensure_topic

    topic_id = ensure_topic(kafka.bootstrap, TOPIC, 2)
    assert ensure_topic(kafka.bootstrap, TOPIC, 2) == topic_id  # idempotent

    offsets = _produce(kafka.bootstrap, partition=1, count=4)
    assert offsets == [0, 1, 2, 3]
    _check(kafka.bootstrap, 1, 0, 3)

    assert kafka.stop() == 143  # SIGTERM: controlled shutdown
    began = time.monotonic()
    kafka.start()
    print(f"clean restart: {time.monotonic() - began:.1f} s")
    assert ensure_topic(kafka.bootstrap, TOPIC, 2) == topic_id
    _check(kafka.bootstrap, 1, 0, 3)
    assert _produce(kafka.bootstrap, partition=1, count=2, start=4) == [4, 5]

    kafka.kill()
    began = time.monotonic()
    kafka.start()
    print(f"restart after SIGKILL: {time.monotonic() - began:.1f} s")
    assert ensure_topic(kafka.bootstrap, TOPIC, 2) == topic_id
    _check(kafka.bootstrap, 1, 0, 3)
    _check(kafka.bootstrap, 1, 4, 5, start=4)
    assert _produce(kafka.bootstrap, partition=1, count=1, start=6) == [6]


def test_topics_are_not_auto_created(kafka):
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(bootstrap_servers=kafka.bootstrap, request_timeout_ms=5000)
    try:
        assert not consumer.partitions_for_topic("no-such-topic")
        assert "no-such-topic" not in consumer.topics()
    finally:
        consumer.close()
