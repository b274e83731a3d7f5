"""SPEC §3 normalization rules at their boundaries (no Flink)."""

from __future__ import annotations

import pytest

from udfs.normalize import Rejected, normalize_sku, parse_timestamp, to_whole_ea, uom_factor
from udfs.strict_json import parse_object

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("raw, expected", [
    ("abc-123_45", "ABC12345"),
    (" ABC.12345 ", "ABC12345"),      # trimmed
    ("ab c1 2345", "ABC12345"),       # inner spaces removed
    ("abcd1234", "ABCD1234"),
])
def test_sku_normalizes(raw, expected):
    assert normalize_sku(raw) == expected


@pytest.mark.parametrize("raw", ["ABC1234", "ABC123456", "ABC1234/", "ÄBC12345", ""])
def test_sku_rejected(raw):
    with pytest.raises(Rejected) as err:
        normalize_sku(raw)
    assert err.value.code == "INVALID_SKU" and err.value.detail.startswith("$.sku")


@pytest.mark.parametrize("raw, epoch_ms", [
    ("2026-10-01T08:00:00Z", 1790841600000),
    ("2026-10-01T10:00:00+02:00", 1790841600000),     # offset to UTC
    ("2026-10-01T03:30:00-04:30", 1790841600000),
    ("2026-10-01T08:00Z", 1790841600000),             # seconds optional
    ("2026-10-01T08:00:00.123456789Z", 1790841600123),  # nanoseconds truncated to ms
    (1790841600000, 1790841600000),                   # epoch milliseconds
    (0, 0),
])
def test_timestamps_to_utc_epoch_ms(raw, epoch_ms):
    assert parse_timestamp(raw, "event_time") == epoch_ms


@pytest.mark.parametrize("raw", [
    "2026-10-01T10:00:00",            # naive: never guessed
    "2026-10-01",                      # a date
    "10/01/2026 10:00",                # another format
    "2026-10-01T10:00:00+0200",        # offset without colon
    "2026-13-01T10:00:00Z",            # no such month
    "2026-10-01T10:00:00+25:00",       # no such offset
    -1, 10**20, True, 1.79e12, None,
])
def test_timestamps_rejected(raw):
    with pytest.raises(Rejected) as err:
        parse_timestamp(raw, "eta")
    assert err.value.code == "INVALID_TIMESTAMP" and err.value.detail.startswith("$.eta")


@pytest.mark.parametrize("qty, uom, ea", [(2, "cs", 48), (0.5, "CS", 12), (1, "pl", 480), (3, "Dz", 36), (0, "EA", 0)])
def test_quantities_to_whole_ea(qty, uom, ea):
    assert to_whole_ea(qty, uom_factor(uom), "quantity") == ea


@pytest.mark.parametrize("qty, uom", [(1.5, "EA"), (0.1, "DZ"), (0.001, "PL")])
def test_fractional_ea_rejected(qty, uom):
    with pytest.raises(Rejected) as err:
        to_whole_ea(qty, uom_factor(uom), "quantity")
    assert err.value.code == "FRACTIONAL_QUANTITY"


def test_unknown_uom():
    with pytest.raises(Rejected) as err:
        uom_factor("BOX")
    assert err.value.code == "UNKNOWN_UOM"


@pytest.mark.parametrize("raw, detail", [
    (None, "tombstone"),
    (b"", "empty"),
    (b"\xff{}", "not UTF-8"),
    (b"[1]", "an array"),
    (b'"x"', "a string"),
    (b'{"a": 1, "a": 2}', "duplicate key"),
    (b'{"a": NaN}', "NaN"),
    (b'{"a": Infinity}', "Infinity"),
    (b"{" * 3000, "not parseable"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b'{"a": 1} trailing', "not parseable"),
])
def test_invalid_json(raw, detail):
    with pytest.raises(Rejected) as err:
        parse_object(raw)
    assert err.value.code == "INVALID_JSON" and detail in err.value.detail


def test_huge_integer_is_a_number_not_a_parse_error():
    assert parse_object(b'{"q": ' + b"9" * 5000 + b"}")["q"] > 10**4000
