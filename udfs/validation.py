"""Validation and normalization of one raw input record (SPEC §3), derived from schemas/.

`Validator(topic).validate(raw)` returns a `Verdict`: the normalized event when the
record is accepted, else the first error code in the SPEC's precedence order with a
detail naming the field. The schema is compiled once into plain checks (the subset of
JSON Schema our contracts use: type, enum, minLength, minimum/maximum, required and
if/then requirements); tests prove it agrees with the `jsonschema` reference validator.
The `x-kind` annotations of the schema say which SPEC §3 rule normalizes each field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson

from supplyflow import contracts
from udfs import normalize
from udfs.normalize import Rejected
from udfs.strict_json import parse_object

_JSON_TYPE_NAMES = {bool: "boolean", str: "string", type(None): "null", dict: "object", list: "array"}


def _json_type(value: object) -> str:
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return "number"
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def _is_type(value: object, expected: str) -> bool:
    if expected == "number":
        return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)
    if expected == "integer":
        if isinstance(value, bool):
            return False
        if isinstance(value, int):
            return True
        if isinstance(value, (float, Decimal)):
            return value == value and value not in (float("inf"), float("-inf")) and value == int(value)
        return False
    python_types = {"string": str, "null": type(None), "object": dict, "array": list, "boolean": bool}
    return isinstance(value, python_types[expected])


# The Python types whose values satisfy a JSON type outright (no bool for a number, no
# float for an integer: those take the full check), for the common case's fast path.
_SATISFYING_TYPES = {"string": (str,), "null": (type(None),), "boolean": (bool,), "object": (dict,),
                     "array": (list,), "number": (int, float, Decimal), "integer": (int,)}


@dataclass(frozen=True)
class _Field:
    name: str
    types: tuple[str, ...]
    enum: tuple[Any, ...] | None
    min_length: int | None
    minimum: float | None
    maximum: float | None
    kind: str | None
    uom_field: str | None
    signed_for: frozenset[str]

    def __post_init__(self) -> None:
        # compiled once per field: the exact Python types that pass the type check, and
        # whether the type is all there is to check (most fields)
        exact = frozenset(t for name in self.types for t in _SATISFYING_TYPES.get(name, ()))
        constrained = (self.enum, self.min_length, self.minimum, self.maximum) != (None,) * 4
        object.__setattr__(self, "_exact", exact)
        object.__setattr__(self, "_type_only", not constrained)

    def violation(self, value: object) -> str | None:
        """The schema violation of value, or None."""
        if type(value) in self._exact:  # type: ignore[attr-defined]
            if self._type_only:  # type: ignore[attr-defined]
                return None
        elif self.types and not any(_is_type(value, t) for t in self.types):
            return f"$.{self.name}: expected {' or '.join(self.types)}, got {_json_type(value)}"
        if self.enum is not None and value not in self.enum:
            return f"$.{self.name}: {str(value)[:40]!r} is not one of {', '.join(map(str, self.enum))}"
        if self.min_length is not None and isinstance(value, str) and len(value) < self.min_length:
            return f"$.{self.name}: shorter than {self.min_length}"
        if (self.minimum is not None or self.maximum is not None) and _json_type(value) == "number":
            if self.minimum is not None and value < self.minimum:  # type: ignore[operator]
                return f"$.{self.name}: below the minimum {self.minimum:g}"
            if self.maximum is not None and value > self.maximum:  # type: ignore[operator]
                return f"$.{self.name}: above the maximum {self.maximum:g}"
        return None


@dataclass(frozen=True)
class Verdict:
    """Accepted (`event` set) or rejected (`code` and `detail` set)."""

    event: dict[str, Any] | None = None
    code: str | None = None
    detail: str | None = None

    @property
    def accepted(self) -> bool:
        return self.event is not None


class Validator:
    """The compiled contract of one input topic (a logical name from config.INPUT_TOPICS)."""

    def __init__(self, topic: str):
        schema = contracts.load_schema(contracts.INPUT_SCHEMAS[topic])
        self.topic = topic
        self.fields = [
            _Field(
                name=name,
                types=tuple([spec["type"]] if isinstance(spec.get("type"), str) else spec.get("type", ())),
                enum=tuple(spec["enum"]) if "enum" in spec else None,
                min_length=spec.get("minLength"),
                minimum=spec.get("minimum"),
                maximum=spec.get("maximum"),
                kind=spec.get("x-kind"),
                uom_field=spec.get("x-uom-field"),
                signed_for=frozenset(spec.get("x-signed-for-event-types", ())),
            )
            for name, spec in schema["properties"].items()
        ]
        self._by_kind: dict[str, tuple[_Field, ...]] = {
            kind: tuple(f for f in self.fields if f.kind == kind) for kind in {f.kind for f in self.fields} if kind}
        self.required = tuple(schema.get("required", ()))
        # allOf: [{if: {properties: {event_type: {enum: [...]}}}, then: {required: [...]}}]
        self.conditional: list[tuple[str, frozenset[Any], tuple[str, ...]]] = []
        for rule in schema.get("allOf", ()):
            (prop, cond), = rule["if"]["properties"].items()
            self.conditional.append((prop, frozenset(cond["enum"]), tuple(rule["then"]["required"])))

    # -- the stages, in SPEC §3 precedence order -----------------------------------------
    def _schema(self, obj: dict[str, Any]) -> None:
        for name in self.required:
            if name not in obj:
                raise Rejected("SCHEMA_VIOLATION", f"$.{name}: required field missing")
        for prop, values, required in self.conditional:
            if obj.get(prop) in values:
                for name in required:
                    if name not in obj:
                        raise Rejected("SCHEMA_VIOLATION", f"$.{name}: required for {prop} {obj[prop]}")
        for field in self.fields:
            if field.name in obj:
                problem = field.violation(obj[field.name])
                if problem:
                    raise Rejected("SCHEMA_VIOLATION", problem)

    def _present(self, obj: dict[str, Any], kind: str) -> list[_Field]:
        return [f for f in self._by_kind.get(kind, ()) if obj.get(f.name) is not None]

    def _normalize(self, obj: dict[str, Any]) -> dict[str, Any]:
        out = {f.name: obj[f.name] for f in self.fields if f.name in obj}
        for f in self._present(obj, "timestamp"):
            out[f.name] = normalize.parse_timestamp(obj[f.name], f.name)
        for f in self._present(obj, "sku"):
            out[f.name] = normalize.normalize_sku(obj[f.name], f.name)
        uoms = self._present(obj, "uom")
        factors = {f.name: normalize.uom_factor(obj[f.name], f.name) for f in uoms}
        quantities, days = self._present(obj, "quantity"), self._present(obj, "days")
        for f in quantities + days:
            if obj.get("event_type") not in f.signed_for:
                normalize.check_non_negative(obj[f.name], f.name)
        for f in quantities:
            out[f.name] = normalize.to_whole_ea(obj[f.name], factors.get(f.uom_field or "", 1), f.name)
        for f in days:
            out[f.name] = float(obj[f.name])
        for f in uoms:
            out[f.name] = "EA"  # quantities are in EA from here on
        if "order_up_to" in out and "reorder_point" in out and out["order_up_to"] < out["reorder_point"]:
            raise Rejected("INVALID_POLICY", f"$.order_up_to: {out['order_up_to']} is below reorder_point "
                                             f"{out['reorder_point']}")
        return out

    def validate(self, raw: bytes | None) -> Verdict:
        """The verdict on one raw Kafka value. Never raises on any input."""
        try:
            obj = parse_object(raw)
            self._schema(obj)
            return Verdict(event=self._normalize(obj))
        except Rejected as rej:
            return Verdict(code=rej.code, detail=rej.detail)
        except Exception as exc:  # a bug must not stop the job: reject, say what happened
            return Verdict(code="SCHEMA_VIOLATION", detail=f"unexpected {type(exc).__name__}: {str(exc)[:120]}")


def to_json(event: dict[str, Any]) -> str:
    """Compact JSON of a normalized event (field order of the schema). orjson: with the
    standard library's encoder this was about a tenth of the edge's Python per record
    (py-spy, 2026-12-06). What orjson refuses goes through the standard library as
    before, so input never fails the job and the payload stays what it was: integers
    beyond 64 bits, and strings with lone surrogates (a JSON escape such as \\ud800)."""
    try:
        return orjson.dumps(event).decode()
    except orjson.JSONEncodeError:
        return json.dumps(event, separators=(",", ":"), ensure_ascii=False)
