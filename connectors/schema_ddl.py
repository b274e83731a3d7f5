"""Flink SQL columns of the normalized events in `scm.valid.*`, derived from schemas/.

The edge (udfs/validation.py) writes each accepted event with the schema's fields only,
normalized: timestamps (`x-kind: timestamp`) as UTC epoch milliseconds, quantities as
whole EA, `days` as a double. This maps those fields to Flink types, so no job re-types
a field list by hand.
"""

from __future__ import annotations

from supplyflow import contracts


def _flink_type(spec: dict) -> str:
    kind = spec.get("x-kind")
    if kind in ("timestamp", "quantity"):
        return "BIGINT"
    if kind == "days":
        return "DOUBLE"
    types = spec.get("type")
    types = [types] if isinstance(types, str) else [t for t in types or [] if t != "null"]
    if types == ["integer"]:
        return "INT"
    if types == ["number"]:
        return "DOUBLE"
    if types == ["boolean"]:
        return "BOOLEAN"
    return "STRING"


def valid_columns(topic: str) -> list[str]:
    """`name TYPE` of every field of input topic `topic` (a config.INPUT_TOPICS name)."""
    schema = contracts.load_schema(contracts.INPUT_SCHEMAS[topic])
    return [f"`{name}` {_flink_type(spec)}" for name, spec in schema["properties"].items()]
