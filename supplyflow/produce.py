"""Writing test records into the input topics (`supplyflow produce`, `supplyflow demo`).

Records go out in the order given, which Kafka keeps per partition: the producer is
idempotent (kafka-python's default; where an older client lacks it, one request in
flight keeps retries from reordering). Keys are the records' own bytes, so the partition
of a key is Kafka's default murmur2 choice, the same as any Java producer's.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import TYPE_CHECKING

from supplyflow import config
from supplyflow.errors import SupplyflowError

if TYPE_CHECKING:  # testdata is a sibling package; only its Record type is needed here
    from testdata.generator import Record


class Pacer:
    """At most `rate` records per second: record n is due at start + n / rate, so sleeps
    do not accumulate rounding error. After a stall of more than a second the schedule
    restarts instead of bursting to catch up."""

    def __init__(self, rate: float, clock=time.monotonic, sleep=time.sleep):
        if not rate > 0:
            raise SupplyflowError(f"--rate must be a positive number of records per second, not {rate}")
        self.interval = 1.0 / rate
        self._clock, self._sleep = clock, sleep
        self._start: float | None = None
        self._n = 0

    def wait(self) -> None:
        """Block until the next record may be sent."""
        now = self._clock()
        if self._start is None or now - (self._start + self._n * self.interval) > 1.0:
            self._start, self._n = now, 0
        due = self._start + self._n * self.interval
        if due > now:
            self._sleep(due - now)
        self._n += 1


def _producer_config(settings: config.Settings, bootstrap_timeout_s: float) -> dict[str, object]:
    from kafka import KafkaProducer

    known = KafkaProducer.DEFAULT_CONFIG
    cfg: dict[str, object] = dict(settings.kafka_client_config(), acks="all", linger_ms=5)
    if "enable_idempotence" in known:
        cfg["enable_idempotence"] = True
    else:  # no idempotence in this client: one request in flight keeps retries in order
        cfg["max_in_flight_requests_per_connection"] = 1
    if "bootstrap_timeout_ms" in known:  # fail fast when nothing listens (default 30 s)
        cfg["bootstrap_timeout_ms"] = int(bootstrap_timeout_s * 1000)
    return cfg


def _unreachable(settings: config.Settings) -> SupplyflowError:
    return SupplyflowError(f"cannot reach Kafka at {settings.kafka_bootstrap}: run `supplyflow stack up` "
                           f"or set SUPPLYFLOW_KAFKA_BOOTSTRAP")


def _connect_errors() -> tuple[type[BaseException], ...]:
    from kafka import errors

    # NoBrokersAvailable (kafka-python 2.x) became a KafkaTimeoutError at bootstrap in 3.x
    names = ("KafkaTimeoutError", "NoBrokersAvailable", "KafkaConnectionError")
    return tuple(getattr(errors, n) for n in names if hasattr(errors, n))


def _check_topics(settings: config.Settings, topics: list[str], bootstrap_timeout_s: float) -> None:
    """Fail at once on a missing topic (the broker does not auto-create them), instead of
    after the producer's metadata wait."""
    from kafka import KafkaConsumer

    opts = dict(settings.kafka_client_config())
    if "bootstrap_timeout_ms" in KafkaConsumer.DEFAULT_CONFIG:
        opts["bootstrap_timeout_ms"] = int(bootstrap_timeout_s * 1000)
    consumer = KafkaConsumer(**opts)
    try:
        missing = [t for t in topics if t not in consumer.topics()]
    finally:
        consumer.close()
    if missing:
        raise SupplyflowError(f"topic {missing[0]} does not exist on {settings.kafka_bootstrap}: "
                              f"run `supplyflow stack up` to create the topics")


def produce(settings: config.Settings, records: list[Record], rate: float | None = None,
            progress: bool = True, *, bootstrap_timeout_s: float = 10.0) -> dict[str, int]:
    """Send `records` in order to their topics (in `settings`' namespace) and wait until
    every one is acknowledged by all in-sync replicas.

    rate: records per second (None: as fast as possible). progress: show a tqdm bar.
    Returns the number of acknowledged records per physical topic name. Raises
    SupplyflowError when Kafka cannot be reached, a topic is missing, or a send fails.
    """
    from kafka import KafkaProducer
    from tqdm import tqdm

    connect_errors = _connect_errors()
    pacer = Pacer(rate) if rate is not None else None
    if not records:
        return {}
    try:
        producer = KafkaProducer(**_producer_config(settings, bootstrap_timeout_s))
    except connect_errors:
        raise _unreachable(settings) from None

    acked: Counter[str] = Counter()
    failures: list[BaseException] = []
    lock = threading.Lock()

    def on_success(metadata) -> None:
        with lock:
            acked[metadata.topic] += 1

    def on_error(exc: BaseException) -> None:
        with lock:
            failures.append(exc)

    try:
        _check_topics(settings, sorted({settings.topic(r.topic) for r in records}), bootstrap_timeout_s)
        with tqdm(total=len(records), unit="rec", desc="producing", disable=not progress) as bar:
            for record in records:
                if pacer:
                    pacer.wait()
                future = producer.send(settings.topic(record.topic), key=record.key, value=record.value)
                future.add_callback(on_success).add_errback(on_error)
                bar.update(1)
            producer.flush()
    except connect_errors:
        raise _unreachable(settings) from None
    finally:
        producer.close(timeout=10)
    if failures:
        raise SupplyflowError(f"{len(failures)} of {len(records)} records were not written, first error: "
                              f"{failures[0]}")
    return dict(sorted(acked.items()))
