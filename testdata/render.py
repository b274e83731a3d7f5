"""How producers spell values: the normalization variants of SPEC §3 in valid records.

A `Style` turns canonical values (epoch ms, canonical SKU, whole EA) into what a real
producer might send — offsets and epoch millis for times, messy SKU spellings, lower-case
units, fractions of a case that are still whole EA — and remembers which variants it
used, so the record's note can say so.
"""

from __future__ import annotations

import calendar
import json
import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from supplyflow.contracts import UOM_FACTORS

# Base time of every scenario: fixed, never the wall clock, so output is reproducible.
T0 = calendar.timegm((2026, 10, 1, 0, 0, 0)) * 1000
SECOND = 1_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR

_OFFSETS = (timedelta(hours=2), timedelta(hours=-5), timedelta(hours=5, minutes=30), timedelta(hours=1))


def iso_utc(ms: int) -> str:
    """Epoch ms as ISO-8601 UTC with a `Z` (milliseconds only when there are some)."""
    dt = datetime.fromtimestamp(ms // 1000, tz=timezone.utc)
    frac = f".{ms % 1000:03d}" if ms % 1000 else ""
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + frac + "Z"


def iso_offset(ms: int, offset: timedelta) -> str:
    """Epoch ms as ISO-8601 local time with a `±hh:mm` offset (same instant)."""
    dt = datetime.fromtimestamp(ms // 1000, tz=timezone(offset))
    frac = f".{ms % 1000:03d}" if ms % 1000 else ""
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + frac + dt.strftime("%z")[:3] + ":" + dt.strftime("%z")[3:]


def whole_ea(value: float | int, factor: int) -> bool:
    """True when value × factor is a whole number both in decimal and in binary floating
    point, so every reasonable implementation agrees on FRACTIONAL_QUANTITY."""
    exact = Decimal(str(value)) * factor
    return exact == exact.to_integral_value() and float(value * factor).is_integer()


def fractional_ea(value: float | int, factor: int) -> bool:
    """True when value × factor is NOT whole, neither in decimal nor in binary floating point
    (0.3 PL is 144 EA in decimal: never use such a value as a "fractional" fault)."""
    exact = Decimal(str(value)) * factor
    return exact != exact.to_integral_value() and not float(value * factor).is_integer()


class Style:
    """Chooses spellings with the scenario's Random; `tags` collects the variants used."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.tags: list[str] = []

    def take_tags(self) -> list[str]:
        """The variants used since the last call (deduplicated, in first-use order)."""
        tags, self.tags = list(dict.fromkeys(self.tags)), []
        return tags

    def ts(self, ms: int) -> str | int:
        """A timestamp: mostly ISO with Z, sometimes a ±hh:mm offset or epoch milliseconds."""
        r = self.rng.random()
        if r < 0.72:
            return iso_utc(ms)
        if r < 0.86:
            self.tags.append("ts:offset")
            return iso_offset(ms, self.rng.choice(_OFFSETS))
        self.tags.append("ts:epoch-ms")
        return ms

    def sku(self, canon: str) -> str:
        """A SKU spelling that normalizes back to `canon` (8 of [A-Z0-9])."""
        if self.rng.random() < 0.8:
            return canon
        self.tags.append("sku:spelling")
        return self.rng.choice((
            f"{canon[:3].lower()}-{canon[3:6]}_{canon[6:]}",   # abc-123_45
            f"{canon[:3]}.{canon[3:]} ",                       # ABC.12345 (trailing space)
            f" {canon[:3].lower()} {canon[3:]}",               # ' abc 12345'
            f"{canon[:3]}_{canon[3:]}",                        # ABC_12345
        ))

    def uom(self, unit: str) -> str:
        """A unit spelling: usually as is, sometimes lower or title case (case-insensitive)."""
        if self.rng.random() < 0.85:
            return unit
        self.tags.append("uom:case")
        return self.rng.choice((unit.lower(), unit.title()))

    def qty(self, ea: int, prefer: str | None = None) -> tuple[int | float, str]:
        """(quantity, uom) expressing `ea` ≥ 0 whole EA in some unit.

        Sometimes a fraction of a case that is still whole EA (0.5 CS = 12 EA, valid) or a
        float with .0 — both valid and both worth testing.
        """
        options = ["EA"] + [u for u in ("DZ", "CS", "PL") if ea > 0 and ea % UOM_FACTORS[u] == 0]
        unit = prefer if prefer in options and self.rng.random() < 0.8 else self.rng.choice(options)
        value: int | float = ea // UOM_FACTORS[unit]
        r = self.rng.random()
        if r < 0.05 and ea > 0 and ea % 6 == 0 and ea % 24:
            # quarters of a case are exact in binary too: 10.5 CS = 252 EA
            unit, value = "CS", ea / 24
            self.tags.append("qty:fraction-of-case")
        elif r < 0.07:
            value = float(value)
            self.tags.append("qty:float")
        return value, self.uom(unit)


def dumps(event: dict[str, Any], rng: random.Random) -> tuple[bytes, list[str]]:
    """Serialize a valid event as UTF-8 JSON: mostly compact, sometimes spaced or indented."""
    r = rng.random()
    if r < 0.9:
        text, tags = json.dumps(event, ensure_ascii=False, separators=(",", ":")), []
    elif r < 0.97:
        text, tags = json.dumps(event, ensure_ascii=False), ["json:spaced"]
    else:
        text, tags = json.dumps(event, ensure_ascii=False, indent=2), ["json:indented"]
    return text.encode("utf-8"), tags
