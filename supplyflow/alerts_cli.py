"""`supplyflow alerts`: a read_committed subscriber of the alert topics, for people and scripts.

People get one readable line per alert, colored by severity when the output is a
terminal; scripts get `--json`, one alert envelope (the `scm.alerts` row, SPEC §5) per
line. Without `--follow` it prints every committed alert up to the topics' current end,
oldest event first, and exits; with `--follow` it then keeps printing new alerts as their
transactions commit, until Ctrl-C.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timezone
from typing import Any, Iterable, TextIO

from supplyflow import config, contracts, kafka_io
from supplyflow.errors import SupplyflowError

_ENVELOPE = contracts.load_schema("alert")
ALERT_TOPICS = tuple(_ENVELOPE["x-topics"])
SEVERITIES = tuple(_ENVELOPE["properties"]["severity"]["enum"])  # ascending
ALERT_TYPES = tuple(_ENVELOPE["properties"]["alert_type"]["enum"])
_COLORS = {"LOW": "\033[32m", "MEDIUM": "\033[33m", "HIGH": "\033[31m", "CRITICAL": "\033[1;97;41m"}
_RESET = "\033[0m"


def parse_types(text: str | None) -> set[str] | None:
    """`--type REORDER,COUNT_VARIANCE` → the set (None: every type); unknown names are an error."""
    if not text:
        return None
    types = {t.strip().upper() for t in text.split(",") if t.strip()}
    unknown = sorted(types - set(ALERT_TYPES))
    if unknown:
        raise SupplyflowError(f"unknown alert type {', '.join(unknown)}: choose from {', '.join(ALERT_TYPES)}")
    return types


def parse_severity(text: str | None) -> str | None:
    """`--min-severity high` → HIGH; unknown names are an error."""
    if not text:
        return None
    if text.upper() not in SEVERITIES:
        raise SupplyflowError(f"unknown severity {text!r}: choose from {', '.join(SEVERITIES)}")
    return text.upper()


def wanted(alert: dict[str, Any], types: set[str] | None, min_severity: str | None) -> bool:
    """Does the alert pass the --type and --min-severity filters?"""
    if types is not None and alert.get("alert_type") not in types:
        return False
    if min_severity is not None:
        severity = alert.get("severity")
        if severity not in SEVERITIES or SEVERITIES.index(severity) < SEVERITIES.index(min_severity):
            return False
    return True


def _when(value: Any) -> str:
    """The alert's event time as 'YYYY-MM-DD HH:MM UTC' (the envelope carries ISO-8601)."""
    try:
        t = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    return t.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def human_line(alert: dict[str, Any], color: bool) -> str:
    """One readable line: time, severity, type, entity, message."""
    severity = str(alert.get("severity"))
    tag = f"{severity:<8}"
    if color and severity in _COLORS:
        tag = f"{_COLORS[severity]}{severity}{_RESET}" + " " * (8 - len(severity))
    return f"{_when(alert.get('event_time'))}  {tag}  {alert.get('alert_type', ''):<24}  {alert.get('message', '')}"


def _decode(records: Iterable) -> list[dict[str, Any]]:
    out = []
    for record in records:
        try:
            out.append(json.loads(record.value))
        except (TypeError, ValueError):
            continue  # our jobs write JSON; anything else is not an alert envelope
    return out


def main(settings: config.Settings, types: str | None = None, min_severity: str | None = None,
         follow: bool = False, as_json: bool = False, out: TextIO | None = None,
         max_idle_s: float | None = None, from_end: bool = False, stop=None) -> int:
    """Print the alerts; returns the exit code. `from_end`: skip what is there already
    (only new alerts); `stop` (a threading.Event) or `max_idle_s` (that long without a new
    alert) end --follow for callers that embed it (the demo, tests)."""
    from kafka import TopicPartition

    out = out or sys.stdout
    type_set, severity = parse_types(types), parse_severity(min_severity)
    color = not as_json and out.isatty()

    def show(alerts: list[dict[str, Any]]) -> None:
        for alert in alerts:
            if wanted(alert, type_set, severity):
                out.write((json.dumps(alert, sort_keys=True) if as_json else human_line(alert, color)) + "\n")
        out.flush()

    consumer = kafka_io.read_committed_consumer(settings)
    try:
        tps = []
        for topic in ALERT_TOPICS:
            partitions = consumer.partitions_for_topic(settings.topic(topic))
            if not partitions:
                raise SupplyflowError(f"topic {settings.topic(topic)} does not exist: run `supplyflow stack up`")
            tps += [TopicPartition(settings.topic(topic), p) for p in sorted(partitions)]
        consumer.assign(tps)
        end = consumer.end_offsets(tps)  # read_committed: the last stable offsets
        if from_end:
            for tp in tps:
                consumer.seek(tp, end[tp])
        else:
            consumer.seek_to_beginning(*tps)
        backlog = []
        while any(consumer.position(tp) < end[tp] for tp in tps):
            for batch in consumer.poll(timeout_ms=500).values():
                backlog += batch
        show(sorted(_decode(backlog), key=lambda a: (str(a.get("event_time")), str(a.get("alert_id")))))
        last = time.monotonic()
        while follow and not (stop is not None and stop.is_set()):
            batches = consumer.poll(timeout_ms=500)
            if batches:
                last = time.monotonic()
                show(_decode(r for batch in batches.values() for r in batch))
            elif max_idle_s is not None and time.monotonic() - last > max_idle_s:
                break
    finally:
        consumer.close()
    return 0
