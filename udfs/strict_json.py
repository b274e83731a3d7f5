"""Strict JSON parsing of raw Kafka values: the INVALID_JSON rule of SPEC §3.

A value is accepted only when it is UTF-8 text holding exactly one JSON object, with no
duplicate keys (the object would be ambiguous), no NaN/Infinity literals (not JSON), and
nesting the parser can follow. Everything else raises `Rejected("INVALID_JSON", ...)`
with a detail saying what is wrong — never a crash.
"""

from __future__ import annotations

import json
from decimal import Decimal

from udfs.normalize import Rejected

# Integers longer than this are kept as Decimal: Python refuses to parse 4,300+ digit
# ints, and such a number is a range problem (SCHEMA_VIOLATION), not a syntax error.
_MAX_INT_DIGITS = 30


class _DuplicateKey(ValueError):
    pass


class _NonFinite(ValueError):
    pass


def _object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return obj


def _constant(name: str) -> float:
    raise _NonFinite(name)


def _int(text: str) -> int | Decimal:
    return int(text) if len(text) <= _MAX_INT_DIGITS else Decimal(text)


_DECODER = json.JSONDecoder(object_pairs_hook=_object, parse_constant=_constant, parse_int=_int)


def parse_object(raw: bytes | None) -> dict[str, object]:
    """The JSON object in raw, or Rejected(INVALID_JSON) saying why there is none."""
    if raw is None:
        raise Rejected("INVALID_JSON", "record has no value (tombstone)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Rejected("INVALID_JSON", f"record value is not UTF-8 (byte {exc.start})") from None
    if not text.strip():
        raise Rejected("INVALID_JSON", "record value is empty")
    try:
        value = _DECODER.decode(text)
    except _DuplicateKey as exc:
        raise Rejected("INVALID_JSON", f"duplicate key {str(exc)[:60]!r} in object") from None
    except _NonFinite as exc:
        raise Rejected("INVALID_JSON", f"{exc} is not a JSON value") from None
    except RecursionError:
        raise Rejected("INVALID_JSON", "record value is nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise Rejected("INVALID_JSON", f"record value is not parseable JSON ({exc.msg} at char {exc.pos})") from None
    except ValueError as exc:  # e.g. numbers Python cannot represent
        raise Rejected("INVALID_JSON", f"record value is not parseable JSON ({str(exc)[:80]})") from None
    if not isinstance(value, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")
        raise Rejected("INVALID_JSON", f"record value is {kind}, not a JSON object")
    return value
