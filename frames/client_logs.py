"""The Kafka client's log during a broker outage, made readable: the one owner of what our
processes let kafka-python say about lost connections (`service.context.setup_logging`
installs it in every process).

Why: kafka-python logs one lost connection as three to five ERROR records, one of them with a
full `ConnectionResetError` traceback, then three ERROR records and a WARNING per reconnect
attempt (every 50 ms to 1 s while the broker is down). A 5 s broker restart wrote about 75 such
lines per process (tests/integration/test_faults.py), which reads like a crash. An operator
needs which broker was lost, why, and whether it is still down. So:

- a lost connection is one WARNING line, without traceback: ``Kafka broker 127.0.0.1:9092:
  connection lost (ConnectionResetError: [Errno 104] Connection reset by peer); the client
  reconnects by itself``;
- failed reconnects are at most one WARNING line per `repeat_seconds`: ``A Kafka broker is
  unreachable (KafkaConnectionError: 111 ECONNREFUSED); still retrying (14 more failed attempts
  since the last line)``;
- the records that only repeat those (the transport's Abort, the connection's "Connection lost",
  the metadata refresh's and the fetch's failure) are dropped.

Only records recognised by their text as one of these, and whose error is a connection error
(`KafkaConnectionError` or an OS connection error: reset, refused, broken pipe, time-out), are
touched; anything else the client logs, with its traceback, passes unchanged.

A line names the broker only when its record does (its address in the record's text). The
client prints ``[none]`` for a socket already reset, and its reconnect failures name no address:
those lines say "a Kafka broker", since with several brokers the last address this process saw
may be another's (the preceding line of the same loss usually named it).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

# The kafka-python loggers that report lost connections (3.x `kafka.net.*`; 2.x `kafka.conn`,
# `kafka.client_async`). A logger's filter sees only its own records, so each is named.
KAFKA_LOGGERS = (
    "kafka.net.transport",
    "kafka.net.connection",
    "kafka.net.manager",
    "kafka.cluster",
    "kafka.consumer.fetcher",
    "kafka.conn",
    "kafka.client_async",
)

_CONNECTION_ERRORS = (ConnectionError, TimeoutError)  # reset, refused, aborted, broken pipe
_KAFKA_CONNECTION_ERROR = "KafkaConnectionError"

# what the client says when a socket is lost (the transport, or 2.x's BrokerConnection)
_LOST = re.compile(
    r": (?:socket disconnected|Error receiving network data closing socket"
    r"|Error sending request data\b.*)$",
    re.DOTALL,
)
# what only repeats a loss or a failed reconnect already reported
_ECHOES = re.compile(
    r": Abort \(KafkaConnectionError\b|: Connection lost: KafkaConnectionError\b"
    r"|^Metadata refresh: failed KafkaConnectionError\b|^Fetch to node \S+ failed: "
    r"KafkaConnectionError\b"
)
# a reconnect that failed, or the client having no broker to ask while it retries
_RETRIES = re.compile(
    r"^Connection failed: KafkaConnectionError\b|^No node available for metadata refresh\b"
)
# the broker's address as the client prints it: 3.x "[127.0.0.1:9092<-51234]", 2.x "host=h:9092"
_ADDRESS = re.compile(r"\[(?P<bracket>[^\]\s<]+:\d+)(?:<-\d+)?\]|host=(?P<host>[^\s>/]+:\d+)")


@dataclass
class _Retries:
    """Failed reconnects since the last line said so."""

    last_said: float | None = None
    unsaid: int = 0


class KafkaConnectionLog(logging.Filter):
    """Rewrites or drops kafka-python's records about lost connections (module docstring).

    Installed on each of `KAFKA_LOGGERS`; the one instance keeps the reconnect count."""

    def __init__(self, repeat_seconds: float = 10.0, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.repeat_seconds = repeat_seconds
        self.clock = clock
        self.retries = _Retries()

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if _ECHOES.search(text):
            return False
        if _LOST.search(text) and self._connection_error(record, text):
            self._say(record, _lost(record, text))
            self.retries = _Retries()
            return True
        if _RETRIES.search(text):
            return self._retry(record, text)
        return True

    def _retry(self, record: logging.LogRecord, text: str) -> bool:
        now, retries = self.clock(), self.retries
        if retries.last_said is not None and now - retries.last_said < self.repeat_seconds:
            retries.unsaid += 1
            return False
        more = (
            f" ({retries.unsaid} more failed attempts since the last line)"
            if retries.unsaid
            else ""
        )
        self._say(record, f"{_unreachable(text)}; still retrying{more}")
        self.retries = _Retries(last_said=now)
        return True

    @staticmethod
    def _connection_error(record: logging.LogRecord, text: str) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is None:
            return text.endswith("socket disconnected")
        return (
            isinstance(error, _CONNECTION_ERRORS) or _KAFKA_CONNECTION_ERROR in type(error).__name__
        )

    @staticmethod
    def _say(record: logging.LogRecord, message: str) -> None:
        """Make `record` one WARNING line saying `message`, without traceback."""
        record.msg, record.args = message, ()
        record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
        record.exc_info = record.exc_text = record.stack_info = None


def _named(text: str) -> str | None:
    """The broker address the record's own text gives, if any (never one remembered from another
    record: with several brokers it may be another's)."""
    match = _ADDRESS.search(text)
    return (match["bracket"] or match["host"]) if match else None


def _lost(record: logging.LogRecord, text: str) -> str:
    """What a lost connection says: the broker if the record names it, and why."""
    broker = _named(text)
    who = f"Kafka broker {broker}" if broker else "A Kafka broker (the client does not say which)"
    return f"{who}: connection lost ({_reason(record, text)}); the client reconnects by itself"


def _unreachable(text: str) -> str:
    """What a failed reconnect, or the client finding no broker to ask, says."""
    if not text.startswith("Connection failed"):
        return "No Kafka broker is available"
    broker, reason = _named(text), text.split(": ", 1)[1]
    who = f"Kafka broker {broker} is" if broker else "A Kafka broker is"
    return f"{who} unreachable ({reason})"


def _reason(record: logging.LogRecord, text: str) -> str:
    error = record.exc_info[1] if record.exc_info else None
    if error is not None:
        return f"{type(error).__name__}: {error}"
    return text.rsplit(": ", 1)[-1]


def install(loggers: tuple[str, ...] = KAFKA_LOGGERS) -> KafkaConnectionLog:
    """Put one `KafkaConnectionLog` on each of `loggers` (again: replaces the earlier one)."""
    log_filter = KafkaConnectionLog()
    for name in loggers:
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, KafkaConnectionLog)]:
            logger.removeFilter(old)
        logger.addFilter(log_filter)
    return log_filter
