"""The Flink binding of udfs/validation.py: a table function.

`validate_record(topic, partition, value)` yields exactly one row (accepted, late,
event_id, entity_key, payload, error_code, error_detail) per record. It is a table
function so that the planner keeps one Python operator above the union of the input
topics instead of pushing a copy into each topic's source chain. `late` marks an
accepted event behind its partition's watermark (udfs/lateness.py); the edge counts
accepted, late and rejected records in SQL (jobs/edge.py `COUNTERS`), so the function
runs in thread mode, where PyFlink drops Python metrics.
"""

from __future__ import annotations

from pyflink.table import Row
from pyflink.table.udf import FunctionContext, TableFunction

from supplyflow import contracts
from udfs.lateness import LatenessTracker
from udfs.validation import Validator, to_json


class ValidateRecord(TableFunction):
    """Validates one raw record of an input topic; never raises."""

    def open(self, function_context: FunctionContext) -> None:
        self._lateness = LatenessTracker()
        self._validators: dict[str, Validator] = {}
        self._keys: dict[str, tuple[list[str], str]] = {}
        for topic, schema_name in contracts.INPUT_SCHEMAS.items():
            self._validators[topic] = Validator(topic)
            key = contracts.load_schema(schema_name).get("x-kafka-key", {})
            self._keys[topic] = (list(key.get("fields", ["event_id"])), key.get("separator", "|"))

    def eval(self, topic: str, partition: int, value: bytes | None):
        yield self._verdict(topic, partition, value)

    def _verdict(self, topic: str, partition: int, value: bytes | None) -> Row:
        verdict = self._validators[topic].validate(value)
        if verdict.event is None:
            return Row(False, False, None, None, None, verdict.code or "SCHEMA_VIOLATION", verdict.detail)
        late = self._lateness.is_late(topic, partition, verdict.event["event_time"])
        fields, sep = self._keys[topic]
        entity_key = sep.join(str(verdict.event.get(f, "")) for f in fields)
        return Row(True, late, verdict.event["event_id"], entity_key, to_json(verdict.event), None, None)
