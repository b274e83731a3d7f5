"""The Flink binding of udfs/validation.py: a scalar function with metrics.

`validate_record(topic, value)` returns ROW(accepted, event_id, entity_key, payload,
error_code, error_detail) and counts, as Flink metrics under the `supplyflow` group,
records accepted and records rejected per error code (visible in the REST API / web UI).
"""

from __future__ import annotations

from pyflink.table import Row
from pyflink.table.udf import FunctionContext, ScalarFunction

from supplyflow import contracts
from udfs.validation import Validator, to_json


class ValidateRecord(ScalarFunction):
    """Validates one raw record of an input topic; never raises."""

    def open(self, function_context: FunctionContext) -> None:
        group = function_context.get_metric_group().add_group("supplyflow")
        self._accepted = group.counter("accepted")
        self._rejected_group = group.add_group("rejected")
        self._rejected: dict[str, object] = {}
        self._validators: dict[str, Validator] = {}
        self._keys: dict[str, tuple[list[str], str]] = {}
        for topic, schema_name in contracts.INPUT_SCHEMAS.items():
            self._validators[topic] = Validator(topic)
            key = contracts.load_schema(schema_name).get("x-kafka-key", {})
            self._keys[topic] = (list(key.get("fields", ["event_id"])), key.get("separator", "|"))

    def _rejected_counter(self, code: str):
        counter = self._rejected.get(code)
        if counter is None:
            counter = self._rejected[code] = self._rejected_group.counter(code)
        return counter

    def eval(self, topic: str, value: bytes | None) -> Row:
        verdict = self._validators[topic].validate(value)
        if verdict.event is None:
            self._rejected_counter(verdict.code or "SCHEMA_VIOLATION").inc()
            return Row(False, None, None, None, verdict.code, verdict.detail)
        self._accepted.inc()
        fields, sep = self._keys[topic]
        entity_key = sep.join(str(verdict.event.get(f, "")) for f in fields)
        return Row(True, verdict.event["event_id"], entity_key, to_json(verdict.event), None, None)
