"""Purchase-order lines with their shipments and receipts: the stories behind SPEC §6's
matching and ETA rules.

Every line gets a flavor. The first round deals each flavor once (so even the smallest
scenario has an orphan, a slip of every level, a SKU mismatch...), then flavors are drawn
by weight. Notes state what happened relative to the promised time, so a reader of a
record can tell which alert it should cause.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from supplyflow import config
from testdata.render import DAY, HOUR, MINUTE, T0
from testdata.world import Location, World

CARRIERS = ("DHL", "UPS", "MAERSK", "DSV", "KUEHNE-NAGEL", "DB-SCHENKER")
# flavor -> weight once every flavor has appeared
FLAVORS = {
    "on_time": 30, "slip_1h": 8, "slip_3h": 8, "slip_30h": 5, "slip_80h": 3, "recover": 4, "in_transit": 4,
    "split": 8, "partial": 5, "over": 2, "updated": 8, "ooo_update": 2, "cancelled": 3, "ship_on_cancelled": 1,
    "ship_cancelled": 2, "sku_mismatch": 1, "ship_before_po": 1, "no_shipment": 4, "orphan": 1,
}
# flavors of a PO's further lines (plain ones: the special cases stay one per PO)
EXTRA_LINES = {"on_time": 6, "slip_1h": 2, "slip_3h": 2, "split": 2, "partial": 1, "updated": 2, "no_shipment": 1}
# flavor -> shipments as (share of the ordered EA, ETA profile)
SHIPMENTS: dict[str, list[tuple[float, str]]] = {
    "split": [(0.6, "on_time"), (0.4, "slip_1h")],
    "partial": [(0.5, "on_time")],
    "over": [(0.6, "on_time"), (0.5, "on_time")],  # 110 % of the line: OVER_SHIPMENT
    "ship_cancelled": [(1.0, "cancel"), (1.0, "on_time")],
}
PROFILES = ("on_time", "slip_1h", "slip_3h", "slip_30h", "slip_80h", "recover", "in_transit")


@dataclass
class Line:
    """A purchase-order line as the generator tracks it (canonical values)."""

    po_id: str
    no: int
    supplier: str
    loc: Location
    ea: int
    unit: str
    promised: int
    version: int = 1


def purchase_orders(w: World, budget: int) -> None:
    """Add PO stories until they hold `budget` drafts (and every flavor appeared once)."""
    rng = w.rng
    deck = list(FLAVORS)
    rng.shuffle(deck)
    n_suppliers = max(3, len(w.skus) // 3)
    while deck or len(w.drafts) < budget:
        flavor = deck.pop() if deck else rng.choices(list(FLAVORS), list(FLAVORS.values()))[0]
        if flavor == "orphan":
            _orphan(w)
            continue
        # an out-of-order update goes to a quiet location (see world.py), alone on its PO
        loc = w.pick(quiet=flavor == "ooo_update")
        po_id, supplier = w.next_id("po"), f"SUP-{rng.randint(1, n_suppliers):03d}"
        tc = w.at(T0 + rng.randint(HOUR, w.horizon - 4 * DAY))
        lines = [(loc, flavor)]
        if flavor != "ooo_update" and len(w.drafts) < budget:  # small scenarios: the flavors alone
            others = [x for x in w.pool(quiet=False, wh=loc.wh) if x.sku != loc.sku]
            for other in rng.sample(others, min(len(others), rng.choice((0, 0, 1, 2)))):
                lines.append((other, rng.choices(list(EXTRA_LINES), list(EXTRA_LINES.values()))[0]))
        for no, (line_loc, line_flavor) in enumerate(lines, 1):
            _line(w, po_id, no, supplier, line_loc, tc, line_flavor)


def _po_event(w: World, line: Line, etype: str, t: int, minimal: bool = False,
              delay: int | None = None, note: str = "") -> None:
    st = w.style
    fields: dict[str, Any] = {"po_id": line.po_id, "po_line": line.no, "version": line.version}
    if not minimal:
        qty, uom = st.qty(line.ea, line.unit)
        fields.update(supplier_id=line.supplier, warehouse_id=line.loc.wh, sku=st.sku(line.loc.sku),
                      ordered_qty=qty, uom=uom, promised_delivery_time=st.ts(line.promised))
    text = f"{etype} {line.po_id}#{line.no} v{line.version}" + (f" {note}" if note else "")
    w.emit(config.PURCHASE_ORDERS, etype, t, fields, text, line.po_id, delay)


def _line(w: World, po_id: str, no: int, supplier: str, loc: Location, tc: int, flavor: str) -> None:
    rng = w.rng
    ea = rng.choice((rng.randrange(48, 1200, 24), rng.randrange(24, 600, 12), rng.randrange(10, 500)))
    promised = tc + rng.randint(48, 120) * HOUR
    line = Line(po_id, no, supplier, loc, ea, rng.choice(("CS", "CS", "CS", "EA", "DZ", "PL")),
                promised - promised % HOUR)
    _po_event(w, line, "PO_CREATED", tc, note=f"({flavor})")
    ready = tc  # shipping starts after the line's last update
    if flavor == "updated":
        for _ in range(rng.randint(1, 2)):
            t = w.at(ready + rng.randint(2, 12) * HOUR)
            line.version += 1
            if rng.random() < 0.5:
                line.ea = max(12, round(line.ea * rng.uniform(0.8, 1.2)))
            else:
                line.promised = max(line.promised + rng.choice((-1, 1, 2)) * DAY, t + 36 * HOUR)
            _po_event(w, line, "PO_UPDATED", t)
            ready = t
    elif flavor == "ooo_update":
        t2, t3 = w.at(tc + 4 * HOUR), w.at(tc + 8 * HOUR)
        line.version, line.ea = 2, line.ea + 24
        _po_event(w, line, "PO_UPDATED", t2, delay=t3 - t2 + 10 * MINUTE, note="(arrives after v3)")
        line.version, line.promised = 3, line.promised + DAY
        _po_event(w, line, "PO_UPDATED", t3, note="(arrives before v2)")
        ready = t3 + 10 * MINUTE
    elif flavor in ("cancelled", "ship_on_cancelled"):
        t = w.at(tc + (3 * HOUR if flavor == "ship_on_cancelled" else rng.randint(1, 30) * HOUR))
        line.version += 1
        minimal = "minimal-cancel" in w.first_time("minimal-cancel") or rng.random() < 0.7
        _po_event(w, line, "PO_CANCELLED", t, minimal=minimal, note="(only po_id, po_line, version)" if minimal else "")
        if flavor == "ship_on_cancelled":
            _shipment(w, line, line.ea, "on_time", dispatch=w.at(t + rng.randint(6, 20) * HOUR),
                      receipt=False, note="shipment on a cancelled PO line")
        return
    if flavor == "no_shipment":
        return
    if flavor == "sku_mismatch":
        other = w.pick(quiet=None, wh=loc.wh, not_sku=loc.sku)
        _shipment(w, line, line.ea, "on_time", ready, sku_loc=other, note=f"SKU mismatch: ships {other.sku}")
        return
    if flavor == "ship_before_po":
        _shipment(w, line, line.ea, "on_time", dispatch=w.at(tc - 2 * HOUR), note="dispatched before its PO")
        return
    plan = SHIPMENTS.get(flavor, [(1.0, flavor if flavor in PROFILES else "on_time")])
    td = end = 0
    for i, (share, profile) in enumerate(plan):
        # a later shipment leaves hours after the previous one, a replacement after the cancel
        dispatch = None if i == 0 else w.at((end if flavor == "ship_cancelled" else td) + rng.randint(2, 12) * HOUR)
        td, end = _shipment(w, line, max(1, round(line.ea * share)), profile, ready, dispatch)


def _shipment(w: World, line: Line, ea: int, profile: str, ready: int = 0, dispatch: int | None = None,
              sku_loc: Location | None = None, receipt: bool = True, note: str = "") -> tuple[int, int]:
    """One shipment of `ea` EA for `line`; returns (dispatch time, time of its last event)."""
    rng, st = w.rng, w.style
    loc = sku_loc or line.loc
    sid, carrier, p = w.next_id("shp"), rng.choice(CARRIERS), line.promised
    sku, (qty, uom) = st.sku(loc.sku), st.qty(ea, line.unit)  # one spelling per shipment
    td = dispatch or w.at(max(ready + HOUR, p - rng.randint(24, 60) * HOUR))
    lo, hi = td + HOUR, max(td + 2 * HOUR, p - 2 * HOUR)

    def when(n: int) -> list[int]:
        return [w.at(t) for t in sorted(rng.randint(lo, hi) for _ in range(n))]

    updates: list[tuple[int, int]] = []   # (time, eta)
    delivered: int | None = None
    cancel: int | None = None
    if profile == "on_time":
        updates = [(t, p + rng.randint(-45, 45) * MINUTE) for t in when(rng.randint(0, 2))]
        delivered = p + rng.randint(-90, 60) * MINUTE
    elif profile == "slip_1h":
        updates, delivered = [(when(1)[0], p + HOUR)], p + HOUR + rng.randint(-5, 10) * MINUTE
    elif profile == "slip_3h":
        updates, delivered = [(when(1)[0], p + 3 * HOUR)], p + 3 * HOUR + rng.randint(0, 20) * MINUTE
    elif profile == "slip_30h":
        updates = list(zip(when(2), (p + 30 * HOUR, p + 32 * HOUR), strict=False))
        delivered = p + rng.randint(31 * 60, 33 * 60) * MINUTE
    elif profile == "slip_80h":
        updates = [(when(1)[0], p + 80 * HOUR)]
        delivered = p + 80 * HOUR + rng.randint(0, 60) * MINUTE if rng.random() < 0.5 else None
    elif profile == "recover":
        updates = list(zip(when(2), (p + 30 * HOUR, p + 30 * MINUTE), strict=False))
        delivered = p + rng.randint(10, 50) * MINUTE
    elif profile == "in_transit":
        updates = [(when(1)[0], p + rng.randint(-30, 30) * MINUTE)]
    elif profile == "orphan":
        updates, delivered = [(w.at(td + rng.randint(26, 30) * HOUR), p)], p + rng.randint(-60, 60) * MINUTE
    elif profile == "cancel":
        cancel = w.at(td + rng.randint(6, 20) * HOUR)
    last = updates[-1][0] if updates else td

    def fields(eta: int | None) -> dict[str, Any]:
        f = {"shipment_id": sid, "po_id": line.po_id, "po_line": line.no, "sku": sku, "shipped_qty": qty,
             "uom": uom, "carrier_id": carrier, "warehouse_id": line.loc.wh}
        if eta is not None:
            f["eta"] = st.ts(eta)
        return f

    def vs(t: int) -> str:
        return f"{(t - p) / HOUR:+.1f} h vs promised"

    tail = f" ({note})" if note else ""
    eta = p + rng.randint(-60, 30) * MINUTE
    w.emit(config.SHIPMENT_EVENTS, "DISPATCHED", td, fields(eta), f"DISPATCHED {sid} eta {vs(eta)}{tail}", sid)
    for t, eta in updates:
        w.emit(config.SHIPMENT_EVENTS, "ETA_UPDATED", t, fields(eta), f"ETA_UPDATED {sid} eta {vs(eta)}{tail}", sid)
    if cancel is not None:
        w.emit(config.SHIPMENT_EVENTS, "CANCELLED", cancel, fields(None), f"CANCELLED {sid}{tail}", sid)
        return td, cancel
    if delivered is None:
        return td, last
    t_del = w.at(max(delivered, last + 30 * MINUTE))
    w.emit(config.SHIPMENT_EVENTS, "DELIVERED", t_del, fields(eta if rng.random() < 0.7 else None),
           f"DELIVERED {sid} {vs(t_del)}{tail}", sid)
    if receipt:
        extra = {"reference_id": sid}
        if rng.random() < 0.4:
            extra["lot_id"] = f"LOT-{rng.randrange(10**5):05d}"
        loc.fixed.append((w.at(t_del + rng.randint(1, 6) * HOUR), "RECEIPT", ea, extra, -1))
    return td, t_del


def _orphan(w: World) -> None:
    """A shipment whose PO never arrives (its po_id is skipped in the PO sequence)."""
    rng = w.rng
    loc = w.pick()
    td = w.at(T0 + rng.randint(6 * HOUR, w.horizon - 4 * DAY))
    line = Line(w.next_id("po"), 1, "", loc, rng.randrange(24, 480, 24), "CS", td + 3 * DAY)
    _shipment(w, line, line.ea, "orphan", dispatch=td, note="orphan: PO never created")
