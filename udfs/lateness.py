"""Counting late events at the edge (SPEC §4), as a pure rule.

An event is late when its event time is more than the out-of-orderness bound (default
5 s) behind the newest event time already seen in the same Kafka partition — the
watermark a Flink source derives per partition with bounded out-of-orderness. Late
events are still accepted and passed on (nothing is lost); they are only counted.
"""

from __future__ import annotations

DEFAULT_BOUND_MS = 5_000


class LatenessTracker:
    """Per-partition watermarks of one source subtask."""

    def __init__(self, bound_ms: int = DEFAULT_BOUND_MS):
        self.bound_ms = bound_ms
        self._newest: dict[tuple[str, int], int] = {}

    def is_late(self, topic: str, partition: int, event_time_ms: int) -> bool:
        """Record one event; True when it arrived behind its partition's watermark."""
        key = (topic, partition)
        newest = self._newest.get(key)
        if newest is None or event_time_ms > newest:
            self._newest[key] = event_time_ms
            return False
        return event_time_ms < newest - self.bound_ms
