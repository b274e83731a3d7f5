"""Normalization rules of SPEC §3, as pure functions.

Each function either returns the normalized value or raises `Rejected` with the SPEC's
error code and a detail naming the field. No Flink, no I/O: the validation UDF and the
tests call the same code.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

from supplyflow.contracts import UOM_FACTORS  # SPEC §3 factors to EA, kept once

SKU_PATTERN = re.compile(r"^[A-Z0-9]{8}$")
_SKU_STRIP = re.compile(r"[-_. ]")  # SPEC §3: remove -, _, . and spaces
# ISO-8601 date-time with a zone: Z or ±hh:mm; seconds and fraction optional.
_ISO_WITH_ZONE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})$"
)
# Epoch milliseconds accepted: 1970-01-01 up to the year 9999.
_MAX_EPOCH_MS = 253_402_300_799_999
# Quantities leave the edge as signed 64-bit integers (BIGINT in Flink and PostgreSQL).
_MAX_QTY = 2**63 - 1


class Rejected(Exception):
    """A record fails a SPEC §3 rule: `code` is the error code, `detail` names the field."""

    def __init__(self, code: str, detail: str):
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


def normalize_sku(value: str, field: str = "sku") -> str:
    """Trim, upper-case, drop `-`, `_`, `.` and spaces; the result must be 8 of [A-Z0-9]."""
    sku = _SKU_STRIP.sub("", value.strip().upper())
    if not SKU_PATTERN.match(sku):
        raise Rejected("INVALID_SKU", f"$.{field}: {value!r} does not normalize to 8 letters/digits")
    return sku


def parse_timestamp(value: object, field: str) -> int:
    """An ISO-8601 string with a zone, or integer epoch milliseconds -> epoch ms (UTC)."""
    if isinstance(value, bool):
        raise Rejected("INVALID_TIMESTAMP", f"$.{field}: a boolean is not a timestamp")
    if isinstance(value, int):
        if 0 <= value <= _MAX_EPOCH_MS:
            return value
        raise Rejected("INVALID_TIMESTAMP", f"$.{field}: epoch milliseconds out of range")
    if not isinstance(value, str):
        raise Rejected("INVALID_TIMESTAMP", f"$.{field}: expected an ISO-8601 string or epoch milliseconds")
    m = _ISO_WITH_ZONE.match(value.strip())
    if not m:
        hint = "has no zone (add Z or ±hh:mm)" if _looks_naive(value) else "is not ISO-8601 with a zone"
        raise Rejected("INVALID_TIMESTAMP", f"$.{field}: {value[:40]!r} {hint}")
    year, month, day, hour, minute, second, fraction, zone = m.groups()
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        tz = timezone.utc
        if zone != "Z":
            sign = 1 if zone[0] == "+" else -1
            hh, mm = int(zone[1:3]), int(zone[4:6])
            if hh > 23 or mm > 59:
                raise ValueError("zone offset out of range")
            from datetime import timedelta

            tz = timezone(sign * timedelta(hours=hh, minutes=mm))
        dt = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micros, tzinfo=tz)
    except ValueError as exc:
        raise Rejected("INVALID_TIMESTAMP", f"$.{field}: {value[:40]!r} is not a valid date-time ({exc})") from None
    epoch_ms = int(dt.timestamp() * 1000) if dt.microsecond == 0 else _exact_ms(dt)
    if not 0 <= epoch_ms <= _MAX_EPOCH_MS:
        raise Rejected("INVALID_TIMESTAMP", f"$.{field}: before 1970")
    return epoch_ms


def _exact_ms(dt: datetime) -> int:
    delta = dt - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def _looks_naive(value: str) -> bool:
    return bool(re.match(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$", value.strip()))


def uom_factor(value: str, field: str = "uom") -> int:
    """The EA factor of a unit of measure (case-insensitive)."""
    factor = UOM_FACTORS.get(value.strip().upper())
    if factor is None:
        raise Rejected("UNKNOWN_UOM", f"$.{field}: {value[:20]!r} is not one of {', '.join(UOM_FACTORS)}")
    return factor


def _decimal(value: object, field: str) -> Decimal:
    try:
        # str() keeps what the producer wrote (0.1 stays 0.1, not a binary fraction)
        return Decimal(str(value))
    except InvalidOperation:
        raise Rejected("SCHEMA_VIOLATION", f"$.{field}: not a number") from None


def check_non_negative(value: object, field: str) -> None:
    """NEGATIVE_QUANTITY when value < 0."""
    if _decimal(value, field) < 0:
        raise Rejected("NEGATIVE_QUANTITY", f"$.{field}: {value} is negative")


def to_whole_ea(value: object, factor: int, field: str) -> int:
    """value × factor as a whole number of EA; FRACTIONAL_QUANTITY when it is not whole."""
    ea = _decimal(value, field) * factor
    if ea != ea.to_integral_value():
        raise Rejected("FRACTIONAL_QUANTITY", f"$.{field}: {value} × {factor} = {ea} EA is not whole")
    whole = int(ea)
    if abs(whole) > _MAX_QTY:
        raise Rejected("SCHEMA_VIOLATION", f"$.{field}: out of range")
    return whole
