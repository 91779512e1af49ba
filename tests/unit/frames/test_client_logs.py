"""kafka-python's log during a broker restart, through `frames.client_logs`: one warning line per
lost connection (with the broker's address, no traceback), failed reconnects at most once per
interval, and everything else the client says unchanged.

The records are those a SIGKILLed broker made the ingest process log in
tests/integration/test_faults.py (kafka-python 3), sent through the real loggers."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from frames import client_logs
from service.context import setup_logging

TRANSPORT = "<KafkaTCPTransport [127.0.0.1:40663<-45662]>"
RESET_TRANSPORT = "<KafkaTCPTransport [none]>"  # the client cannot name a reset socket's peer
CONNECTION = "<KafkaConnection node_id=1 broker_version=(4, 3) (disconnected)>"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def lines(self) -> list[str]:
        return [f"{r.levelname} {r.name}: {r.getMessage()}" for r in self.records]


@pytest.fixture
def kept(monkeypatch) -> Iterator[tuple[Kept, Clock]]:
    """The filter on kafka-python's loggers (a clock of our own), and what reaches a handler."""
    clock = Clock()
    log_filter = client_logs.install()
    monkeypatch.setattr(log_filter, "clock", clock)
    handler, kafka = Kept(), logging.getLogger("kafka")
    kafka.addHandler(handler)
    level, kafka.level = kafka.level, logging.WARNING
    yield handler, clock
    kafka.removeHandler(handler)
    kafka.setLevel(level)
    for name in client_logs.KAFKA_LOGGERS:
        logging.getLogger(name).removeFilter(log_filter)


def _log(name: str, message: str, *args, level: int = logging.ERROR) -> None:
    logging.getLogger(name).log(level, message, *args)


def _reset_while(verb: str) -> None:
    try:
        raise ConnectionResetError(104, "Connection reset by peer")
    except ConnectionResetError:
        logging.getLogger("kafka.net.transport").exception("%s: Error %s", RESET_TRANSPORT, verb)


def _connection_lost(reason: str) -> None:
    _log("kafka.net.connection", "%s: Connection lost: %s", CONNECTION, reason)
    _log("kafka.cluster", "Metadata refresh: failed %s", reason)


def _reconnect_refused() -> None:
    _log("kafka.net.manager", "Connection failed: %s", "KafkaConnectionError: 111 ECONNREFUSED")
    _connection_lost("KafkaConnectionError: 111 ECONNREFUSED")
    _log("kafka.cluster", "No node available for metadata refresh - backoff/retry", level=30)


def test_a_broker_restart_reads_as_one_line_per_lost_connection(kept) -> None:
    handler, clock = kept
    _log("kafka.net.transport", "%s: socket disconnected", TRANSPORT)
    _log("kafka.net.transport", "%s: Abort (KafkaConnectionError: socket disconnected)", TRANSPORT)
    _connection_lost("KafkaConnectionError: socket disconnected")
    _reset_while("receiving network data closing socket")
    _connection_lost("KafkaConnectionError: [Errno 104] Connection reset by peer")
    for _ in range(20):  # every 50 ms to 1 s while the broker is down
        _reconnect_refused()
        clock.now += 0.3
    assert handler.lines() == [
        "WARNING kafka.net.transport: Kafka broker 127.0.0.1:40663: connection lost (socket "
        "disconnected); the client reconnects by itself",
        # the reset socket's record names no broker: not guessed from the line before
        "WARNING kafka.net.transport: A Kafka broker (the client does not say which): connection "
        "lost (ConnectionResetError: [Errno 104] Connection reset by peer); the client "
        "reconnects by itself",
        "WARNING kafka.net.manager: A Kafka broker is unreachable "
        "(KafkaConnectionError: 111 ECONNREFUSED); still retrying",
    ]
    assert all(r.exc_info is None and r.exc_text is None for r in handler.records)
    clock.now += 10
    _reconnect_refused()  # still down 10 s later: said again, with what was not said
    assert handler.lines()[-1].endswith(
        "still retrying (39 more failed attempts since the last line)"
    )


def test_a_send_that_meets_a_reset_is_one_line_too(kept) -> None:
    handler, _ = kept
    _reset_while("sending request data: [Errno 104] Connection reset by peer")
    assert handler.lines() == [
        "WARNING kafka.net.transport: A Kafka broker (the client does not say which): connection "
        "lost (ConnectionResetError: [Errno 104] Connection reset by peer); the client "
        "reconnects by itself"
    ]


def test_with_several_brokers_each_line_names_only_the_broker_its_record_names(kept) -> None:
    """Two brokers: a loss whose record names its broker says that one; a reset socket's, and a
    failed reconnect's, name none rather than the last address this process saw."""
    handler, clock = kept
    other = "<KafkaTCPTransport [10.0.0.6:9092<-51234]>"
    _log("kafka.net.transport", "%s: socket disconnected", other)
    _log("kafka.net.transport", "%s: socket disconnected", TRANSPORT)
    _reset_while("receiving network data closing socket")
    _reconnect_refused()
    clock.now += 10
    _log("kafka.net.manager", "No node available for metadata refresh - backoff/retry", level=30)
    lines = handler.lines()
    assert lines[0].startswith("WARNING kafka.net.transport: Kafka broker 10.0.0.6:9092: ")
    assert lines[1].startswith("WARNING kafka.net.transport: Kafka broker 127.0.0.1:40663: ")
    assert lines[2].startswith("WARNING kafka.net.transport: A Kafka broker (the client does ")
    assert lines[3].startswith("WARNING kafka.net.manager: A Kafka broker is unreachable (")
    assert lines[4] == (
        "WARNING kafka.net.manager: No Kafka broker is available; still retrying "
        "(1 more failed attempts since the last line)"
    )
    assert not any("40663" in line or "10.0.0.6" in line for line in lines[2:])


def test_a_2x_record_names_its_broker_by_host(kept) -> None:
    handler, _ = kept
    conn = "<BrokerConnection node_id=1 host=10.0.0.7:9092 <connected> [IPv4 ('10.0.0.7', 9092)]>"
    _log("kafka.conn", "%s: socket disconnected", conn)
    assert handler.lines() == [
        "WARNING kafka.conn: Kafka broker 10.0.0.7:9092: connection lost (socket disconnected); "
        "the client reconnects by itself"
    ]


def test_real_errors_keep_their_level_text_and_traceback(kept) -> None:
    handler, _ = kept
    try:
        raise ValueError("bad frame header")
    except ValueError:
        logging.getLogger("kafka.net.transport").exception(
            "%s: Error receiving network data closing socket", TRANSPORT
        )
    _log("kafka.cluster", "Topic %s not found in cluster metadata", "frames")
    _log("kafka.net.connection", "%s: Connection lost: %s", CONNECTION, "KafkaTimeoutError: 30 s")
    _log("kafka.producer.sender", "Uncaught error in kafka producer I/O thread")
    assert [r.levelname for r in handler.records] == ["ERROR"] * 4
    assert handler.records[0].exc_info[0] is ValueError
    assert handler.lines()[1:] == [
        "ERROR kafka.cluster: Topic frames not found in cluster metadata",
        f"ERROR kafka.net.connection: {CONNECTION}: Connection lost: KafkaTimeoutError: 30 s",
        "ERROR kafka.producer.sender: Uncaught error in kafka producer I/O thread",
    ]


def test_every_process_installs_it_once() -> None:
    setup_logging()
    setup_logging()
    for name in client_logs.KAFKA_LOGGERS:
        installed = logging.getLogger(name).filters
        assert [type(f) for f in installed] == [client_logs.KafkaConnectionLog], name
