"""Pure rules of SPEC §6 at their boundaries: PO line state, fulfillment, matching, ETA
levels and alert identity (groundwork of the matching and ETA jobs, issues #4 and #5)."""

from __future__ import annotations

import pytest

from udfs.alerts import alert_id, entity_id, eta_level
from udfs.matching import match_status, shipment_status
from udfs.po_lines import LineVersion, fulfillment_status, is_over_shipped, line_as_of, open_qty, status_of

pytestmark = pytest.mark.unit
H = 3600 * 1000


def v(t, version, event_type="PO_UPDATED", **fields):
    return LineVersion(t, version, event_type, {"sku": "ABCD1234", "ordered_qty": 100, **fields})


class TestLineAsOf:
    def test_greatest_event_time_then_version_wins(self):
        versions = [v(10, 1, "PO_CREATED", ordered_qty=100), v(20, 3, ordered_qty=90), v(20, 2, ordered_qty=80)]
        assert line_as_of(versions).fields["ordered_qty"] == 90

    def test_as_of_ignores_events_after_t(self):
        versions = [v(10, 1, "PO_CREATED", ordered_qty=100), v(20, 2, ordered_qty=90)]
        assert line_as_of(versions, 19).fields["ordered_qty"] == 100
        assert line_as_of(versions, 20).fields["ordered_qty"] == 90
        assert line_as_of(versions, 9) is None

    def test_arrival_order_does_not_matter(self):
        versions = [v(10, 1, "PO_CREATED"), v(30, 3, ordered_qty=70), v(20, 2, ordered_qty=80)]
        assert line_as_of(versions) == line_as_of(list(reversed(versions)))

    def test_cancel_is_terminal(self):
        versions = [v(10, 1, "PO_CREATED"), v(20, 2, "PO_CANCELLED"), v(30, 3, ordered_qty=50)]
        assert status_of(line_as_of(versions)) == "CANCELLED"
        assert status_of(line_as_of(versions, 19)) == "OPEN"


@pytest.mark.parametrize("status, ordered, delivered, expected", [
    ("CANCELLED", 100, 100, "CANCELLED"),
    ("OPEN", 100, 0, "OPEN"),
    ("OPEN", 100, 1, "PARTIALLY_DELIVERED"),
    ("OPEN", 100, 99, "PARTIALLY_DELIVERED"),
    ("OPEN", 100, 100, "DELIVERED"),
    ("OPEN", 100, 102, "DELIVERED"),          # exactly ordered × 1.02: not over
    ("OPEN", 100, 103, "OVER_DELIVERED"),
])
def test_fulfillment_status(status, ordered, delivered, expected):
    assert fulfillment_status(status, ordered, delivered) == expected


@pytest.mark.parametrize("status, ordered, received, expected", [
    ("OPEN", 100, 40, 60), ("OPEN", 100, 120, 0), ("CANCELLED", 100, 0, 0), (None, 100, 0, 0),
])
def test_open_qty(status, ordered, received, expected):
    assert open_qty(status, ordered, received) == expected


def test_over_shipment_boundary():
    assert not is_over_shipped(100, 102) and is_over_shipped(100, 103)


class TestMatchStatus:
    def test_pending_then_orphan_at_exactly_24h(self):
        assert match_status(None, "ABCD1234", 0, 24 * H - 1) == "PENDING_PO"
        assert match_status(None, "ABCD1234", 0, 24 * H) == "ORPHAN"

    def test_matched_mismatch_cancelled(self):
        assert match_status(v(0, 1, "PO_CREATED"), "ABCD1234", 0, 0) == "MATCHED"
        assert match_status(v(0, 1, "PO_CREATED"), "ZZZZ9999", 0, 0) == "SKU_MISMATCH"
        cancelled = line_as_of([v(0, 1, "PO_CREATED"), v(1, 2, "PO_CANCELLED")])
        assert match_status(cancelled, "ZZZZ9999", 0, 5) == "PO_CANCELLED"  # cancellation first

    def test_shipment_status_terminal(self):
        assert shipment_status([(1, "DISPATCHED"), (2, "ETA_UPDATED")]) == "IN_TRANSIT"
        assert shipment_status([(1, "DISPATCHED"), (3, "DELIVERED"), (4, "ETA_UPDATED")]) == "DELIVERED"
        assert shipment_status([(5, "CANCELLED"), (1, "DISPATCHED")]) == "CANCELLED"
        # the earliest terminal event decides, ties by type; the line book's [time, type] lists
        assert shipment_status([[7, "DELIVERED"], [6, "CANCELLED"], [8, "DELIVERED"]]) == "CANCELLED"
        assert shipment_status([[6, "DELIVERED"], [6, "CANCELLED"]]) == "CANCELLED"
        assert shipment_status([]) == "IN_TRANSIT"


@pytest.mark.parametrize("minutes, level", [
    (None, "NONE"), (-500, "NONE"), (119, "NONE"), (120, "MEDIUM"), (121, "MEDIUM"),
    (1439, "MEDIUM"), (1440, "HIGH"), (4319, "HIGH"), (4320, "CRITICAL"), (10**6, "CRITICAL"),
])
def test_eta_level_boundaries(minutes, level):
    assert eta_level(minutes) == level


def test_alert_ids_are_deterministic():
    assert entity_id("PO_LINE", po_id="PO-7", po_line=1) == "PO-7#1"
    assert entity_id("SKU_LOCATION", sku="ABCD1234", warehouse_id="WH-DAL") == "ABCD1234|WH-DAL"
    assert alert_id("OVER_SHIPMENT", "PO-7#1") == "OVER_SHIPMENT:PO-7#1"
    assert alert_id("ETA_VARIANCE", "SH-1", "ev-9") == "ETA_VARIANCE:SH-1:ev-9"
    with pytest.raises(ValueError):
        entity_id("WAREHOUSE")
