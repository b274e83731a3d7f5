"""The Flink binding of udfs/validation.py: a table function with metrics.

`validate_record(topic, partition, value)` yields exactly one row (accepted, event_id,
entity_key, payload, error_code, error_detail) per record. It is a table function so that
the planner keeps one Python operator above the union of the input topics instead of
pushing a copy into each topic's source chain. It counts, as Flink metrics under the
`supplyflow` group, records accepted, accepted but late (udfs/lateness.py) and rejected,
per input topic and error code (REST API, web UI and the Prometheus reporter:
`..._supplyflow_topic_accepted`, `..._supplyflow_topic_late`,
`..._supplyflow_topic_error_code_rejected`).
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
        self._group = function_context.get_metric_group().add_group("supplyflow")
        self._accepted: dict[str, object] = {}
        self._late: dict[str, object] = {}
        self._lateness = LatenessTracker()
        self._rejected: dict[tuple[str, str], object] = {}
        self._validators: dict[str, Validator] = {}
        self._keys: dict[str, tuple[list[str], str]] = {}
        for topic, schema_name in contracts.INPUT_SCHEMAS.items():
            self._accepted[topic] = self._group.add_group("topic", topic).counter("accepted")
            self._late[topic] = self._group.add_group("topic", topic).counter("late")
            self._validators[topic] = Validator(topic)
            key = contracts.load_schema(schema_name).get("x-kafka-key", {})
            self._keys[topic] = (list(key.get("fields", ["event_id"])), key.get("separator", "|"))

    def _rejected_counter(self, topic: str, code: str):
        counter = self._rejected.get((topic, code))
        if counter is None:
            group = self._group.add_group("topic", topic).add_group("error_code", code)
            counter = self._rejected[(topic, code)] = group.counter("rejected")
        return counter

    def eval(self, topic: str, partition: int, value: bytes | None):
        yield self._verdict(topic, partition, value)

    def _verdict(self, topic: str, partition: int, value: bytes | None) -> Row:
        verdict = self._validators[topic].validate(value)
        if verdict.event is None:
            self._rejected_counter(topic, verdict.code or "SCHEMA_VIOLATION").inc()
            return Row(False, None, None, None, verdict.code, verdict.detail)
        self._accepted[topic].inc()
        if self._lateness.is_late(topic, partition, verdict.event["event_time"]):
            self._late[topic].inc()
        fields, sep = self._keys[topic]
        entity_key = sep.join(str(verdict.event.get(f, "")) for f in fields)
        return Row(True, verdict.event["event_id"], entity_key, to_json(verdict.event), None, None)
