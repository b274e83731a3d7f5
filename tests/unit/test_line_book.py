"""The line book: events applied in any order give the SPEC §6 rows and alerts, once."""

from __future__ import annotations

import itertools

import pytest

from udfs import line_book

pytestmark = pytest.mark.unit
H = 3600 * 1000


def po(t, version=1, event_type="PO_CREATED", qty=100, sku="SKUAAAA1"):
    return {"event_id": f"po-{t}-{version}", "event_type": event_type, "event_time": t, "version": version,
            "supplier_id": "SUP", "warehouse_id": "WH", "sku": sku, "ordered_qty": qty,
            "promised_delivery_time": 100 * H}


def ship(sid, t, qty=60, event_type="DISPATCHED", sku="SKUAAAA1"):
    return {"event_id": f"{sid}-{t}", "event_type": event_type, "event_time": t, "shipment_id": sid, "sku": sku,
            "shipped_qty": qty, "carrier_id": "DHL", "warehouse_id": "WH", "eta": 90 * H}


def run(events):
    """Apply (kind, event) pairs in event-time order, as the job does; evaluate after each."""
    book = line_book.new_book("PO-1", 1)
    alerts = []
    for kind, event in sorted(events, key=lambda ke: (ke[1]["event_time"], ("PO", "SH", "RC").index(ke[0]))):
        {"PO": line_book.apply_po, "SH": line_book.apply_shipment, "RC": line_book.apply_receipt}[kind](book, event)
        alerts += line_book.evaluate(book, event, 0)["alerts"]
    return book, line_book.evaluate(book, events[-1][1], 0), alerts


EVENTS = [("PO", po(0)), ("SH", ship("SH-1", 1 * H)), ("SH", ship("SH-2", 2 * H, qty=50)),
          ("SH", ship("SH-1", 3 * H, event_type="DELIVERED")),
          ("RC", {"event_id": "r1", "event_time": 4 * H, "reference_id": "SH-1", "quantity": 60}),
          ("RC", {"event_id": "r1", "event_time": 4 * H, "reference_id": "SH-1", "quantity": 60})]


@pytest.mark.parametrize("order", list(itertools.permutations(range(4)))[:8])
def test_arrival_order_does_not_change_the_result(order):
    shuffled = [EVENTS[i] for i in order] + EVENTS[4:]
    assert run(shuffled)[1] == run(EVENTS)[1]


def test_totals_receipts_counted_once_and_over_shipment_alert_once():
    _, out, alerts = run(EVENTS)
    (line,) = out["po_lines"]
    assert (line["shipped_qty"], line["delivered_qty"], line["received_qty"], line["open_qty"]) == (110, 60, 60, 40)
    assert line["fulfillment_status"] == "PARTIALLY_DELIVERED"
    assert [a["alert_id"] for a in alerts] == ["OVER_SHIPMENT:PO-1#1"]
    assert alerts[0]["trigger_event_id"] == "SH-2-7200000"  # the event that crossed 102 %


def test_orphan_only_after_the_grace_and_only_without_a_line():
    book = line_book.new_book("PO-9", 1)
    line_book.apply_shipment(book, ship("SH-9", 0))
    line_book.mark_orphans(book, 24 * H - 1, 24 * H)
    assert line_book.evaluate(book, ship("SH-9", 0), 0)["shipments"][0]["match_status"] == "PENDING_PO"
    line_book.mark_orphans(book, 24 * H, 24 * H)
    out = line_book.evaluate(book, ship("SH-9", 0), 0)
    assert out["shipments"][0]["match_status"] == "ORPHAN"
    assert [a["alert_type"] for a in out["alerts"]] == ["ORPHAN_SHIPMENT"]
    assert line_book.evaluate(book, ship("SH-9", 0), 0)["alerts"] == []  # once per shipment


def test_closed_when_cancelled_or_delivered_in_full():
    book, _, _ = run(EVENTS)
    assert not line_book.is_closed(book)                       # SH-2 still in transit
    line_book.apply_shipment(book, ship("SH-2", 5 * H, qty=50, event_type="DELIVERED"))
    assert line_book.is_closed(book) and line_book.last_event_time(book) == 5 * H
    cancelled = line_book.new_book("PO-2", 1)
    line_book.apply_po(cancelled, po(0))
    assert not line_book.is_closed(cancelled)
    line_book.apply_po(cancelled, po(1, version=2, event_type="PO_CANCELLED"))
    assert line_book.is_closed(cancelled)


@pytest.mark.parametrize("events", [[po(5)], [po(5, event_type="PO_CANCELLED")], [po(5), po(7, 2, qty=80)],
                                    [po(5), po(7, 2, event_type="PO_CANCELLED"), po(9, 3)]])
def test_line_at_is_line_as_of_the_books_versions(events):
    """line_at's shortcut for a line of one PO event gives what line_as_of gives."""
    from udfs.po_lines import LineVersion, line_as_of

    book = line_book.new_book("PO-1", 1)
    for event in events:
        line_book.apply_po(book, event)
    versions = [LineVersion(v["event_time"], v["version"], v["event_type"], v["fields"]) for v in book["versions"]]
    for t in (None, 4, 5, 6, 7, 8, 9, 10):
        ours, reference = line_book.line_at(book, t), line_as_of(versions, t)
        assert ours == reference and (ours is None or ours.fields == reference.fields), t
    assert line_book.line_at(book) is not None


STEPS = [("SH", ship("SH-1", 0)), ("RC", {"event_id": "r0", "event_time": 1, "reference_id": "SH-1", "quantity": 5}),
         ("PO", po(1 * H)), ("SH", ship("SH-2", 2 * H, qty=30, sku="SKUBBBB2")),
         ("RC", {"event_id": "r2", "event_time": 3 * H, "reference_id": "SH-2", "quantity": 30}),
         ("SH", ship("SH-1", 4 * H, event_type="DELIVERED")), ("SH", ship("SH-2", 5 * H, event_type="DELIVERED")),
         ("RC", {"event_id": "r1", "event_time": 6 * H, "reference_id": "SH-1", "quantity": 60}),
         ("SH", ship("SH-3", 7 * H, qty=40)), ("SH", ship("SH-3", 8 * H, qty=40, event_type="DELIVERED")),
         ("PO", po(9 * H, version=2, qty=120)), ("SH", ship("SH-4", 10 * H, qty=5, event_type="CANCELLED")),
         ("PO", po(11 * H, version=3, qty=120, sku="SKUBBBB2")),
         ("PO", po(12 * H, version=4, event_type="PO_CANCELLED"))]


def test_closed_and_on_order_agree_with_the_lines_row_at_every_step():
    """is_closed (which stops at the first shipment in transit) and on_order (the line's
    sku, warehouse and open quantity without the rest of evaluate) against their
    definitions: every shipment delivered or cancelled and the line's sku delivered in
    full; the po_lines row's own fields."""
    from udfs.matching import shipment_status

    book = line_book.new_book("PO-1", 1)
    closed_seen = set()
    for kind, event in STEPS:
        {"PO": line_book.apply_po, "SH": line_book.apply_shipment, "RC": line_book.apply_receipt}[kind](book, event)
        rows = line_book.evaluate(book, event, 0)["po_lines"]
        assert line_book.on_order(book) == (None if not rows else
                                            (rows[0]["sku"], rows[0]["warehouse_id"], rows[0]["open_qty"]))
        line = line_book.line_at(book)
        statuses = [shipment_status(s["events"]) for s in book["shipments"].values()]
        delivered = sum(s["shipped_qty"] for s, st in zip(book["shipments"].values(), statuses, strict=True)
                        if st == "DELIVERED" and line and s["sku"] == line.fields["sku"])
        expected = line is not None and (line.event_type == "PO_CANCELLED" or (
            bool(statuses) and "IN_TRANSIT" not in statuses and delivered >= line.fields["ordered_qty"]))
        assert line_book.is_closed(book) == expected, event["event_id"]
        closed_seen.add(expected)
    assert closed_seen == {True, False}  # the steps reach both answers
