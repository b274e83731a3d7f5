"""The data contracts of SPEC §2, §3 and §5, loaded from `schemas/` (the single source of truth).

Field names, types, event types, Kafka keys and the DLQ error codes are read from the JSON
Schema files; nothing here re-types them. Schema names are the file stems without
`.schema.json`: "purchase-order", "shipment-event", "inventory-movement",
"reorder-policy", "alert", "dlq-record".

Custom keywords the schemas carry beside standard JSON Schema (ignored by validators):
- `x-topic` (input and DLQ schemas): the topic the records live on (a `config` constant).
- `x-kafka-key`: `{"fields": [...], "separator": "|"}`, how producers build the Kafka key.
- `x-kind` on a property: which SPEC §3 rule normalizes it — "timestamp", "sku", "uom",
  "quantity" (whole EA, ≥ 0) or "days" (≥ 0, may be fractional); `x-uom-field` names the
  unit of a quantity, `x-signed-for-event-types` the event types where it may be negative.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import jsonschema

from supplyflow import config

SCHEMA_DIR: Path = config.ROOT / "schemas"

# SPEC §3: conversion factors of the units of measure to the base unit EA.
UOM_FACTORS: dict[str, int] = {"EA": 1, "DZ": 12, "CS": 24, "PL": 480}


@lru_cache(maxsize=None)
def _load(name: str) -> dict[str, Any]:
    path = SCHEMA_DIR / f"{name}.schema.json"
    if not path.is_file():
        known = ", ".join(sorted(p.name.removesuffix(".schema.json") for p in SCHEMA_DIR.glob("*.schema.json")))
        raise KeyError(f"no schema {name!r} in {SCHEMA_DIR} (known: {known})")
    with path.open(encoding="utf-8") as f:
        return json.load(f)


def load_schema(name: str) -> dict[str, Any]:
    """The parsed schema `schemas/<name>.schema.json` (a fresh copy; callers may mutate it)."""
    return json.loads(json.dumps(_load(name)))


def schema_names() -> tuple[str, ...]:
    """Every schema in SCHEMA_DIR, by name, sorted."""
    return tuple(sorted(p.name.removesuffix(".schema.json") for p in SCHEMA_DIR.glob("*.schema.json")))


def _input_schemas() -> dict[str, str]:
    by_topic = {}
    for name in schema_names():
        topic = _load(name).get("x-topic")
        if topic in config.INPUT_TOPICS:
            by_topic[topic] = name
    # in config's topic order, so iteration is the same everywhere
    return {topic: by_topic[topic] for topic in config.INPUT_TOPICS if topic in by_topic}


# input topic -> schema name, from the schemas' `x-topic` keys
INPUT_SCHEMAS: dict[str, str] = _input_schemas()


@lru_cache(maxsize=None)
def validator(name: str) -> jsonschema.Draft202012Validator:
    """A cached draft 2020-12 validator of schema `name`, with format checking on.

    The schema is checked first, so a broken schema file fails loudly here and not as
    "every record is invalid" later.
    """
    schema = _load(name)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def topic_validator(topic: str) -> jsonschema.Draft202012Validator:
    """The validator of input topic `topic` (a logical name from `config.INPUT_TOPICS`)."""
    return validator(INPUT_SCHEMAS[topic])


def event_types(topic: str) -> tuple[str, ...]:
    """The event_type enum of input topic `topic`."""
    return tuple(_load(INPUT_SCHEMAS[topic])["properties"]["event_type"]["enum"])


def fields_of_kind(name: str, kind: str) -> tuple[str, ...]:
    """Properties of schema `name` whose `x-kind` is `kind` ("timestamp", "sku", "quantity", ...)."""
    return tuple(f for f, spec in _load(name)["properties"].items() if spec.get("x-kind") == kind)


def kafka_key(topic: str, event: Mapping[str, Any]) -> str | None:
    """The Kafka key a producer gives `event` on input topic `topic` (SPEC §2), from the raw,
    un-normalized field values; None when a key field is missing."""
    spec = _load(INPUT_SCHEMAS[topic])["x-kafka-key"]
    parts = [event.get(f) for f in spec["fields"]]
    if any(p is None for p in parts):
        return None
    return spec["separator"].join(str(p) for p in parts)


# SPEC §3 error codes in precedence order: the first that applies is reported.
ERROR_CODES: tuple[str, ...] = tuple(_load("dlq-record")["properties"]["error_code"]["enum"])
