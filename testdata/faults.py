"""Injected faults: one builder per kind of bad record, each labelled with its SPEC §3 code.

A fault starts from a copy of a real valid event (a fresh event_id, so it never collides
with an accepted one) and breaks it in exactly the way its kind says. The label is the
FIRST code in precedence order that applies (INVALID_JSON › SCHEMA_VIOLATION ›
INVALID_TIMESTAMP › INVALID_SKU › UNKNOWN_UOM › NEGATIVE_QUANTITY › FRACTIONAL_QUANTITY ›
INVALID_POLICY); the "multi-fault" kind combines several faults to test that order.

Labelling choices where the SPEC leaves room:
- empty value b"", tombstone (None), NaN/Infinity literals, nesting thousands deep and
  duplicate keys are INVALID_JSON: none of them is "a JSON object" a parser can hand on
  unambiguously (NaN is not JSON; with duplicate keys the object is ambiguous).
- a 5,000-digit number is syntactically JSON: it is SCHEMA_VIOLATION (the schemas bound
  quantities to ±10^15), as a range problem, not a parse problem.
- po_line/version 0, -1 or 1.5 are SCHEMA_VIOLATION (schema minimum/integer), not
  NEGATIVE/FRACTIONAL_QUANTITY: they are not quantities.
- a negative lead_time_days is NEGATIVE_QUANTITY (SPEC §3 lists it with the ≥ 0 rule).
- an epoch-millis timestamp sent as a string is INVALID_TIMESTAMP (SPEC: an *integer*).
Faults on the compacted policy topic use a location without valid policies as key, and
no tombstone goes there: under compaction either would delete a valid policy.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from typing import Any, Callable

from supplyflow import config, contracts
from testdata.render import MINUTE, iso_utc
from testdata.world import Draft, World

_TS = ("event_time", "eta", "promised_delivery_time")
_QTY = ("ordered_qty", "shipped_qty", "quantity", "reorder_point", "order_up_to", "min_order_qty", "safety_stock")


@dataclass(frozen=True)
class FaultKind:
    """A kind of bad record: its SPEC §3 code ("varies" for multi-fault) and what it is."""

    code: str
    description: str


FAULT_KINDS: dict[str, FaultKind] = {
    "not-json": FaultKind("INVALID_JSON", "text that is not JSON (Python repr, XML, CSV, trailing comma...)"),
    "truncated-json": FaultKind("INVALID_JSON", "a valid event cut short"),
    "non-utf8": FaultKind("INVALID_JSON", "bytes that are not UTF-8 (Latin-1, UTF-16, garbage)"),
    "empty-value": FaultKind("INVALID_JSON", 'an empty value b""'),
    "tombstone": FaultKind("INVALID_JSON", "a null value (tombstone)"),
    "json-array": FaultKind("INVALID_JSON", "a JSON array instead of an object"),
    "json-scalar": FaultKind("INVALID_JSON", "a JSON scalar (number, string, true, null) instead of an object"),
    "deep-nesting": FaultKind("INVALID_JSON", "an object nested thousands of levels deep"),
    "nan-literal": FaultKind("INVALID_JSON", "NaN or Infinity, which are not JSON"),
    "duplicate-keys": FaultKind("INVALID_JSON", "an object with a key twice (ambiguous)"),
    "missing-field": FaultKind("SCHEMA_VIOLATION", "a required field missing"),
    "missing-conditional": FaultKind("SCHEMA_VIOLATION",
                                     "eta missing on DISPATCHED/ETA_UPDATED, a PO field on PO_CREATED/UPDATED"),
    "wrong-type": FaultKind("SCHEMA_VIOLATION", "a field of the wrong JSON type"),
    "boolean-number": FaultKind("SCHEMA_VIOLATION", "a boolean where a number is required"),
    "null-field": FaultKind("SCHEMA_VIOLATION", "a required field null"),
    "unknown-event-type": FaultKind("SCHEMA_VIOLATION", "an event_type not in the topic's enum"),
    "out-of-range-int": FaultKind("SCHEMA_VIOLATION", "po_line/version/schema_version 0, -1, 1.5 or > INT"),
    "huge-number": FaultKind("SCHEMA_VIOLATION", "a 5,000-digit quantity"),
    "naive-timestamp": FaultKind("INVALID_TIMESTAMP", "an ISO timestamp without a zone"),
    "other-date-format": FaultKind("INVALID_TIMESTAMP", "another format: 10/04/2026 10:00, RFC 2822, a date..."),
    "impossible-date": FaultKind("INVALID_TIMESTAMP", "a zoned ISO timestamp of a date or time that does not exist"),
    "bad-sku": FaultKind("INVALID_SKU", "a SKU that does not normalize to 8 of [A-Z0-9]"),
    "unknown-uom": FaultKind("UNKNOWN_UOM", "a unit other than EA, DZ, CS, PL"),
    "negative-quantity": FaultKind("NEGATIVE_QUANTITY", "a quantity below 0 (not an ADJUSTMENT)"),
    "negative-lead-time": FaultKind("NEGATIVE_QUANTITY", "a policy with lead_time_days below 0"),
    "fractional-quantity": FaultKind("FRACTIONAL_QUANTITY", "a quantity that is not whole in EA (1.5 EA, 0.1 DZ)"),
    "invalid-policy": FaultKind("INVALID_POLICY", "a policy with order_up_to < reorder_point"),
    "multi-fault": FaultKind("varies", "several faults at once: labelled with the first code in precedence order"),
}


def fault_kind(note: str) -> str | None:
    """The fault kind named by a record's note ("fault:<kind>: ..."), or None."""
    return note.split(":", 2)[1] if note.startswith("fault:") else None


def _enc(ev: Any) -> bytes:
    return json.dumps(ev, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _canon(sku: str) -> str:
    return re.sub(r"[-_. ]", "", sku.strip().upper())


class _Faults:
    """Builders share the world's Random and its valid drafts as templates."""

    def __init__(self, w: World):
        self.w, self.rng = w, w.rng
        self.valid = [d for d in w.drafts if d.event is not None]
        self.multi = 0
        self.last_time = self.valid[0].time
        self._cache: dict[tuple, dict[str, list[Draft | None]]] = {}

    def template(self, need: tuple[str, ...] = (), types: tuple[str, ...] = (), topics: tuple[str, ...] = (),
                 no_compacted: bool = False) -> tuple[str, dict[str, Any], str | None, int]:
        """(topic, event copy with a fresh event_id, key, time) of a random valid event that
        has the fields `need` and, if given, one of event types `types`."""
        rng = self.rng
        pools = self._pools(need, types, topics, no_compacted)
        topic = rng.choice([t for t, pool in pools.items() if pool])
        d = rng.choice(pools[topic])
        if d is None:  # a policy for a location without valid ones: safe under compaction
            loc = self.w.pick(quiet=True)
            fields, key = self.w.policy_event(loc, 0, self.w.policy_values(loc), "", emit=False)
            t = rng.choice(self.valid).time
            ev = {"event_id": "", "event_type": "POLICY_SET", "event_time": iso_utc(t),
                  "source_system": "planning-o9", **fields}
        else:
            ev, key, t = copy.deepcopy(d.event), d.key, d.time
        ev["event_id"] = self.w.event_id()
        self.last_time = t
        return topic, ev, key, t

    def _pools(self, need: tuple[str, ...], types: tuple[str, ...], topics: tuple[str, ...],
               no_compacted: bool) -> dict[str, list[Draft | None]]:
        """Candidate templates per topic, computed once per kind of request (big scenarios)."""
        cache_key = (need, types, topics, no_compacted)
        if cache_key not in self._cache:
            allowed = [t for t in (topics or config.INPUT_TOPICS)
                       if not (no_compacted and t in config.COMPACTED_TOPICS)]
            pools: dict[str, list[Draft | None]] = {
                t: [d for d in self.valid if d.topic == t and all(f in d.event for f in need)
                    and (not types or d.event["event_type"] in types)] for t in allowed}
            if config.REORDER_POLICIES in pools:  # never a copy of a valid policy: see the module doc
                ok = (not types or "POLICY_SET" in types) and all(f in _POLICY_FIELDS for f in need)
                pools[config.REORDER_POLICIES] = [None] if ok else []
            self._cache[cache_key] = pools
        return self._cache[cache_key]

    def key(self, topic: str, ev: dict[str, Any], fallback: str | None) -> str | None:
        """The key a producer would give the broken event (its own key fields when present)."""
        fields = [ev.get(f) for f in contracts.load_schema(contracts.INPUT_SCHEMAS[topic])["x-kafka-key"]["fields"]]
        return contracts.kafka_key(topic, ev) if all(isinstance(f, str) for f in fields) else fallback

    def pick_field(self, ev: dict[str, Any], names: tuple[str, ...]) -> str:
        """One of the fields `names` that `ev` has."""
        return self.rng.choice([f for f in names if f in ev])

    def naive(self, t: int) -> str:
        """Time t as ISO-8601 without a zone, in one of three spellings."""
        base = iso_utc(t - t % 1000)[:-1]
        return self.rng.choice((base, base + ".250", base.replace("T", " ")))


_POLICY_FIELDS = ("sku", "warehouse_id", "reorder_point", "order_up_to", "min_order_qty", "safety_stock",
                  "lead_time_days", "event_time", "event_id", "event_type", "source_system")

# A builder returns (topic, key, raw value, code or None for the kind's code, detail).
Built = tuple[str, str | None, bytes | None, str | None, str]
_BUILDERS: dict[str, Callable[[_Faults], Built]] = {}


def _builder(kind: str):
    def register(fn: Callable[[_Faults], Built]) -> Callable[[_Faults], Built]:
        _BUILDERS[kind] = fn
        return fn
    return register


def make_faults(w: World, count: int) -> list[Draft]:
    """`count` fault drafts: every kind once (in a seeded order) while count allows, then
    kinds drawn uniformly. Each is placed within 30 minutes after the event it was made
    from, as a bad producer would send it."""
    from testdata import faults_build  # noqa: F401  (registers the builders)

    f = _Faults(w)
    kinds = list(FAULT_KINDS)
    f.rng.shuffle(kinds)
    drafts = []
    for i in range(count):
        kind = kinds[i] if i < len(kinds) else f.rng.choice(list(FAULT_KINDS))
        topic, key, raw, code, detail = _BUILDERS[kind](f)
        time = f.last_time + f.rng.randint(0, 30 * MINUTE)
        drafts.append(Draft(topic, key, time, f"fault:{kind}: {detail}", raw=raw,
                            expect=code or FAULT_KINDS[kind].code))
    return drafts
