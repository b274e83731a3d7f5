"""Records as JSONL files, for `supplyflow produce --file` and for keeping scenarios around.

One record per line:

    {"topic": "scm.purchase-orders", "key": "PO-2026-10001", "value": "{\\"event_id\\": ...}",
     "expect": "valid", "note": "PO_CREATED ..."}

`value` is the raw value as text (null for a tombstone). When the value is not UTF-8 it
is null and `value_b64` holds the bytes in base64 instead (`key_b64` likewise for a key),
so the round trip is lossless.

`read_jsonl` also accepts hand-written files of bare events:

    {"topic": "scm.inventory-movements", "value": {"event_id": "m-1", "event_type": "ISSUE", ...}}

The event is dumped compactly, the key is built from the topic's key fields (SPEC §2,
`x-kafka-key` in the schema) and the record is labelled "valid". A line that is an event
itself (it has an `event_type`, no `value`) is accepted too; its topic is the one whose
event_type enum lists it.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, Iterable

from supplyflow import config, contracts
from supplyflow.errors import SupplyflowError
from testdata.generator import Record, Scenario


def _text_or_b64(raw: bytes | None, name: str) -> dict[str, Any]:
    if raw is None:
        return {name: None}
    try:
        return {name: raw.decode("utf-8")}
    except UnicodeDecodeError:
        return {name: None, f"{name}_b64": base64.b64encode(raw).decode("ascii")}


def record_to_line(record: Record) -> str:
    """One record as a JSONL line (without the newline)."""
    line: dict[str, Any] = {"topic": record.topic}
    line.update(_text_or_b64(record.key, "key"))
    line.update(_text_or_b64(record.value, "value"))
    line.update(expect=record.expect, note=record.note)
    return json.dumps(line, ensure_ascii=False)


def write_jsonl(scenario: Scenario | Iterable[Record], path: str | Path) -> int:
    """Write the records of a scenario (or any records) to `path`; returns the line count."""
    records = scenario.records if isinstance(scenario, Scenario) else list(scenario)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for record in records:
            f.write(record_to_line(record) + "\n")
    return len(records)


def _bytes(line: dict[str, Any], name: str) -> bytes | None:
    if line.get(f"{name}_b64") is not None:
        return base64.b64decode(line[f"{name}_b64"], validate=True)
    value = line.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string or null")
    return value.encode("utf-8")


def _topic_of(event: dict[str, Any]) -> str:
    matches = [t for t in config.INPUT_TOPICS if event.get("event_type") in contracts.event_types(t)]
    if len(matches) != 1:
        raise ValueError(f"no topic has event_type {event.get('event_type')!r}: add a \"topic\"")
    return matches[0]


def line_to_record(line: dict[str, Any]) -> Record:
    """A parsed JSONL line as a Record (record lines and bare-event lines, see the module doc)."""
    if "value" not in line and "value_b64" not in line and "event_type" in line:
        line = {"topic": _topic_of(line), "value": line}
    topic = line.get("topic")
    if topic not in config.INPUT_TOPICS:
        raise ValueError(f"topic {topic!r} is not an input topic ({', '.join(config.INPUT_TOPICS)})")
    value = line.get("value")
    if isinstance(value, dict):  # a bare event: the file gives the object, we give the bytes
        raw = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        key = line["key"] if isinstance(line.get("key"), str) else contracts.kafka_key(topic, value)
        return Record(topic, None if key is None else key.encode("utf-8"), raw,
                      line.get("expect", "valid"), line.get("note", "from file"))
    return Record(topic, _bytes(line, "key"), _bytes(line, "value"),
                  line.get("expect", "unlabelled"), line.get("note", ""))


def read_jsonl(path: str | Path) -> list[Record]:
    """The records of a JSONL file; a bad line raises SupplyflowError naming file and line."""
    path = Path(path)
    records = []
    try:
        lines = path.read_bytes().decode("utf-8").split("\n")  # not splitlines: U+2028 may sit in a value
    except UnicodeDecodeError as exc:
        raise SupplyflowError(f"{path}: not UTF-8 text (byte {exc.start}); non-UTF-8 values go in value_b64") from None
    for n, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            line = json.loads(text)
            if not isinstance(line, dict):
                raise ValueError("a line must be a JSON object")
            records.append(line_to_record(line))
        except (ValueError, KeyError) as exc:  # JSONDecodeError and binascii.Error are ValueErrors
            raise SupplyflowError(f"{path}:{n}: {exc}") from None
    return records
