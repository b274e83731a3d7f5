"""The valid side of a scenario: a small supply chain simulated in event time.

Purchase-order lines with their shipments and receipts (stories in `stories.py`),
reorder policies, transfers between warehouses and the day-to-day movements of every
SKU at every warehouse (issues, signed adjustments, cycle counts computed against the
booked stock just before them). Everything comes from one `random.Random`.

Locations come in two kinds. Most have a reorder policy. "Quiet" locations have none:
they never raise a REORDER or a COUNT_VARIANCE, which makes them the safe place for
records that arrive late (SPEC §4: a late event does not re-open decided alerts, so its
effect on alerts is not well defined) and for faults on the compacted policy topic
(a fault keyed like a valid policy could replace that policy under compaction).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from typing import Any

from supplyflow import config
from testdata.render import DAY, HOUR, MINUTE, SECOND, T0, Style

HORIZON = 10 * DAY  # movements and PO creations spread over at least this much event time
SPACING = 2 * SECOND  # ... and over more in large scenarios: at least this much per valid event
WAREHOUSES = ("WH-AMS", "WH-BER", "WH-MAD", "WH-WAW")
FAMILIES = ("BOL", "NUT", "WSH", "CBL", "PMP", "VLV", "FLT", "BRG", "SEL", "GSK")
SOURCES = {
    config.PURCHASE_ORDERS: ("erp-sap", "erp-sap", "erp-oracle"),
    config.SHIPMENT_EVENTS: ("tms-project44", "carrier-edi"),
    config.INVENTORY_MOVEMENTS: ("wms-manhattan", "wms-manhattan", "wms-lager-köln"),  # non-ASCII UTF-8 is valid
    config.REORDER_POLICIES: ("planning-o9",),
}
_EXTRA_FIELDS = (("x_priority", "HIGH"), ("incoterm", "DAP"), ("tags", ["urgent", "eu"]), ("meta", {"batch": 7}))
# cycle-count variance profiles: name -> fraction of max(booked, 1) the count is off by
COUNT_PROFILES = ("exact", "within 0.2 %", "beyond 0.2 %", "beyond 2 %")
# what every location's opening events say in their notes: its setup, before the steady mix
INITIAL_POLICY, OPENING_BALANCE = "initial policy", "opening balance"


@dataclass
class Draft:
    """One record before ordering: a valid event (event) or a fault's exact bytes (raw)."""

    topic: str
    key: str | None
    time: int                      # event time, epoch ms (canonical)
    note: str
    event: dict[str, Any] | None = None
    raw: bytes | None = None
    expect: str = "valid"
    delay: int = 0                 # produced this long after its event time (late arrival)


@dataclass
class Location:
    """One (sku, warehouse): its opening stock, policy, and the movements fixed in advance."""

    sku: str
    wh: str
    quiet: bool
    opening: int
    policy: dict[str, Any] | None = None
    fixed: list[tuple[int, str, int, dict[str, Any], int]] = field(default_factory=list)  # time, type, ea, extra, delay

    @property
    def name(self) -> str:
        return f"{self.sku}|{self.wh}"


class World:
    """Builds the valid drafts of a scenario of about `target` valid events."""

    def __init__(self, rng: random.Random, target: int):
        self.rng = rng
        self.target = target
        self.style = Style(rng)
        self.drafts: list[Draft] = []
        self.locations: dict[tuple[str, str], Location] = {}
        # taken event times -> a later time to try next (see at())
        self._next_free: dict[int, int] = {}
        self._counters = {"po": 10000, "shp": 400000, "trf": 700, "sup": 0}
        self._pools: dict[tuple, list[Location]] = {}  # see pool()
        self._first: set[str] = set()  # "first time" features still to guarantee
        self.skus: list[str] = []
        # Event times are whole seconds, one event each (see at()). A fixed horizon would
        # fill up in a large scenario: bumped past their slots, events would be laid out in
        # the order they are generated (PO stories first, movements last), and the mix
        # would drift along the stream. A horizon that grows with the size keeps the mix
        # the same from start to end, save for the opening setup and the last days.
        self.horizon = max(HORIZON, target * SPACING)

    # --- ids, times ----------------------------------------------------------------------
    def next_id(self, kind: str) -> str:
        """The next business id of a kind: po, shp (shipment), trf (transfer)."""
        self._counters[kind] += 1
        n = self._counters[kind]
        return {"po": f"PO-2026-{n:05d}", "shp": f"SHP-{n:06d}", "trf": f"TRF-{n:05d}"}[kind]

    def event_id(self) -> str:
        """A UUID drawn from the scenario's Random (never uuid4: that is not seeded)."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def at(self, t: int) -> int:
        """`t` rounded to the second and bumped until unused, so no two events share an
        event time (the state "just before" an event is then unambiguous). The taken
        times point past themselves, with the paths shortened as they are walked: probing
        one second at a time made big scenarios quadratic once their seconds filled up."""
        t -= t % SECOND
        free = t
        while free in self._next_free:
            free = self._next_free[free]
        while t != free:  # every time walked now points at the free one
            self._next_free[t], t = free, self._next_free[t]
        self._next_free[free] = free + SECOND
        return free

    # --- events --------------------------------------------------------------------------
    def emit(self, topic: str, etype: str, t: int, fields: dict[str, Any], note: str,
             key: str | None, delay: int | None = None) -> Draft:
        """Append a valid event with the envelope of SPEC §2 and return its draft."""
        rng, st = self.rng, self.style
        ev: dict[str, Any] = {
            "event_id": self.event_id(),
            "event_type": etype,
            "event_time": st.ts(t),
            "source_system": rng.choice(SOURCES[topic]),
        }
        if rng.random() < 0.25:
            ev["correlation_id"] = fields.get("po_id") or f"corr-{rng.getrandbits(40):010x}"
        elif rng.random() < 0.03:
            ev["correlation_id"] = None
            st.tags.append("null-optional")
        if rng.random() < 0.3:
            ev["schema_version"] = 1
        ev.update(fields)
        if rng.random() < 0.05:
            name, value = rng.choice(_EXTRA_FIELDS)
            ev[name] = value
            st.tags.append("extra-field")
        tags = st.take_tags()
        if delay is None:
            delay = rng.randint(0, 1500)  # network jitter: reorders only records a second apart
        draft = Draft(topic, key, t, note + (f" [{', '.join(tags)}]" if tags else ""), event=ev, delay=delay)
        self.drafts.append(draft)
        return draft

    def movement(self, loc: Location, etype: str, t: int, ea: int, note: str,
                 extra: dict[str, Any] | None = None, delay: int | None = None) -> Draft:
        """An inventory movement of `ea` EA (signed for ADJUSTMENT) at `loc`."""
        sku = self.style.sku(loc.sku)
        value, uom = self.style.qty(abs(ea), prefer=self.rng.choice(("EA", "EA", "CS")))
        fields = {"sku": sku, "warehouse_id": loc.wh, "quantity": -value if ea < 0 else value, "uom": uom}
        fields.update(extra or {})
        return self.emit(config.INVENTORY_MOVEMENTS, etype, t, fields, note, f"{sku}|{loc.wh}", delay)

    # --- the world -----------------------------------------------------------------------
    def build(self) -> list[Draft]:
        """Every valid draft, in generation order (the generator orders them for producing)."""
        from testdata import stories

        self._catalog()
        stories.purchase_orders(self, budget=int(self.target * 0.5))
        self._policies()
        self._transfers()
        self._movements()
        return self.drafts

    def _catalog(self) -> None:
        rng = self.rng
        n_sku = max(4, round(self.target / 120))
        n_wh = 3 if n_sku < 30 else 4
        seen: set[str] = set()
        while len(self.skus) < n_sku:
            sku = rng.choice(FAMILIES) + f"{rng.randrange(10**5):05d}"
            if sku not in seen:
                seen.add(sku)
                self.skus.append(sku)
        for i, sku in enumerate(self.skus):
            # every warehouse stocks at least two SKUs (a SKU mismatch needs another SKU there)
            whs = {WAREHOUSES[i % n_wh], WAREHOUSES[(i + 1) % n_wh]} if i < n_wh else set()
            whs |= set(rng.sample(WAREHOUSES[:n_wh], rng.randint(1, 2)))
            for wh in sorted(whs):
                self.locations[(sku, wh)] = Location(sku, wh, quiet=False, opening=rng.randrange(240, 3000, 12))
        locs = list(self.locations.values())
        for loc in rng.sample(locs, max(1, len(locs) // 7)):
            loc.quiet = True
        busy = next(loc for loc in locs if not loc.quiet)
        busy.opening = max(busy.opening, 1800)  # one location with stock enough for every count profile

    def pool(self, quiet: bool | None = False, wh: str | None = None) -> list[Location]:
        """The locations of a quietness (None: any) and warehouse (None: any), in catalog
        order. Kept per filter: the catalog is fixed once built, and filtering every
        location on every pick made big scenarios quadratic."""
        key = (quiet, wh)
        if key not in self._pools:
            self._pools[key] = [loc for loc in self.locations.values()
                                if (quiet is None or loc.quiet == quiet) and (wh is None or loc.wh == wh)]
        return self._pools[key]

    def pick(self, quiet: bool | None = False, wh: str | None = None, not_sku: str | None = None) -> Location:
        """A random location, filtered by quietness (None: any), warehouse and SKU."""
        locs = self.pool(quiet, wh)
        if not_sku is not None:
            locs = [loc for loc in locs if loc.sku != not_sku]
        return self.rng.choice(locs)

    def _policies(self) -> None:
        rng = self.rng
        active = [loc for loc in self.locations.values() if not loc.quiet]
        changing = set(id(x) for x in rng.sample(active, max(1, len(active) * 3 // 10)))
        for loc in active:
            loc.policy = self.policy_values(loc)
            self.policy_event(loc, self.at(T0 + rng.randint(0, 300) * SECOND), loc.policy, INITIAL_POLICY)
        for loc in active:
            if id(loc) in changing:
                rp = round(loc.policy["reorder_point"] * rng.uniform(1.2, 1.6))
                changed = dict(loc.policy, reorder_point=rp, order_up_to=max(rp, round(loc.opening * 1.6)))
                t = self.at(T0 + int(self.horizon * rng.uniform(0.35, 0.65)))
                self.policy_event(loc, t, changed, "policy change mid-stream")

    def policy_values(self, loc: Location) -> dict[str, Any]:
        """Plausible policy numbers (whole EA) for a location's opening stock."""
        rng = self.rng
        rp = round(loc.opening * rng.uniform(0.25, 0.5))
        up_to = rp if rng.random() < 0.03 else round(loc.opening * rng.uniform(1.0, 1.5))  # = is valid
        lead: int | float = rng.choice((2, 3, 5, 7, 10, 14, 2.5))
        return {"reorder_point": rp, "order_up_to": up_to, "min_order_qty": rng.choice((24, 48, 96, 120, 240)),
                "safety_stock": round(rp * rng.uniform(0.2, 0.5)), "lead_time_days": lead}

    def policy_event(self, loc: Location, t: int, values: dict[str, Any], note: str, emit: bool = True):
        """A POLICY_SET for `loc`; with emit=False only its fields and key (fault templates)."""
        sku = self.style.sku(loc.sku)
        fields = {"sku": sku, "warehouse_id": loc.wh, **values}
        if not emit:
            self.style.take_tags()
            return fields, f"{sku}|{loc.wh}"
        return self.emit(config.REORDER_POLICIES, "POLICY_SET", t, fields,
                         f"POLICY_SET {loc.name} {note}", f"{sku}|{loc.wh}")

    def _transfers(self) -> None:
        rng = self.rng
        by_sku: dict[str, list[Location]] = {}
        for loc in self.locations.values():
            by_sku.setdefault(loc.sku, []).append(loc)
        multi = [locs for locs in by_sku.values() if len(locs) > 1]
        for _ in range(max(1, round(self.target * 0.015)) if multi else 0):
            src, dst = rng.sample(rng.choice(multi), 2)
            ref = self.next_id("trf")
            ea = max(12, round(src.opening * rng.uniform(0.03, 0.1) / 12) * 12)
            t_out = self.at(T0 + rng.randint(6 * HOUR, self.horizon - DAY))
            t_in = self.at(t_out + rng.randint(4 * HOUR, 30 * HOUR))
            src.fixed.append((t_out, "TRANSFER_OUT", ea, {"reference_id": ref}, -1))
            dst.fixed.append((t_in, "TRANSFER_IN", ea, {"reference_id": ref}, -1))

    def _movements(self) -> None:
        rng = self.rng
        locs = list(self.locations.values())
        fixed = sum(len(loc.fixed) for loc in locs)
        budget = max(2 * len(locs), self.target - len(self.drafts) - fixed - len(locs))
        weights = [rng.uniform(0.5, 1.5) for _ in locs]
        total = sum(weights)
        for loc, w in zip(locs, weights, strict=False):
            self._simulate(loc, max(2, int(budget * w / total)))  # 2: room for a count and an adjustment

    def _simulate(self, loc: Location, n: int) -> None:
        """Movements of one location in event-time order; issues never exceed the stock
        (save on an empty shelf), cycle counts are set against the booked stock."""
        rng = self.rng
        unseen = [p for p in COUNT_PROFILES if p not in self._first]
        n_counts = 0 if loc.quiet else max(1 if n >= 3 or unseen else 0, round(n * 0.1))
        n_adj = max(1 if n >= 5 or (n >= 2 and "neg-adj" not in self._first) else 0, round(n * 0.1))
        kinds = ["CYCLE_COUNT"] * n_counts + ["ADJUSTMENT"] * n_adj + ["ISSUE"] * max(0, n - n_counts - n_adj)
        plan = [(self.at(T0 + rng.randint(HOUR, self.horizon)), k, 0, {}, -1) for k in kinds]
        if n_counts and "within 0.2 %" in unseen and loc.opening >= 1500:
            # a count right after the opening balance: stock is high enough for a 0.1 % difference
            plan[0] = (self.at(T0 + rng.randint(2 * HOUR, 3 * HOUR)), "CYCLE_COUNT", 0, {}, -1)
        plan.append((self.at(T0 + rng.randint(10, 60) * MINUTE), "OPENING", loc.opening, {}, -1))
        n_issues = max(1, kinds.count("ISSUE"))
        mean_issue = loc.opening * rng.uniform(0.6, 1.3) / n_issues
        on_hand = 0
        for t, kind, ea, extra, delay in sorted(plan + loc.fixed, key=lambda p: p[0]):
            if kind == "OPENING":
                self.movement(loc, "ADJUSTMENT", t, ea, f"ADJUSTMENT {loc.name} {OPENING_BALANCE} +{ea}")
                on_hand += ea
            elif kind in ("RECEIPT", "TRANSFER_IN", "TRANSFER_OUT"):
                sign = -1 if kind == "TRANSFER_OUT" else 1
                self.movement(loc, kind, t, ea, f"{kind} {loc.name} {ea} EA ref {extra['reference_id']}",
                              extra, None if delay < 0 else delay)
                on_hand += sign * ea
            elif kind == "ISSUE":
                qty = max(1, round(mean_issue * rng.uniform(0.3, 1.7)))
                qty = min(qty, on_hand) if on_hand > 0 else rng.randint(1, 3)
                late = loc.quiet and ("late" in self.first_time("late") or rng.random() < 0.15)
                self.movement(loc, "ISSUE", t, qty, f"ISSUE {loc.name} {qty} EA" + (" (late arrival)" if late else ""),
                              delay=rng.randint(HOUR, 3 * HOUR) if late else None)
                on_hand -= qty
            elif kind == "ADJUSTMENT":
                sign = -1 if "neg-adj" in self.first_time("neg-adj") or rng.random() < 0.5 else 1
                ea = sign * rng.choice((1, 2, 3, 5, 12, 24))
                self.movement(loc, "ADJUSTMENT", t, ea, f"ADJUSTMENT {loc.name} {ea:+d} EA")
                on_hand += ea
            else:
                self._cycle_count(loc, t, on_hand)

    def first_time(self, feature: str) -> set[str]:
        """{feature} the first time it is asked for, then {} — guarantees one occurrence."""
        if feature in self._first:
            return set()
        self._first.add(feature)
        return {feature}

    def _cycle_count(self, loc: Location, t: int, booked: int) -> None:
        rng = self.rng
        base = max(booked, 1)
        feasible = ["beyond 2 %"] if booked < 0 else ["exact", "beyond 2 %"]
        if booked >= 1000:
            feasible.append("within 0.2 %")  # needs a whole EA below 0.2 %
        if booked >= 0 and int(base * 0.015) > int(base * 0.003):
            feasible.append("beyond 0.2 %")
        unseen = [p for p in COUNT_PROFILES if p in feasible and p not in self._first]
        profile = unseen[0] if unseen else rng.choice(feasible)
        self._first.add(profile)
        if profile == "exact":
            diff = 0
        elif profile == "within 0.2 %":
            diff = rng.randint(1, int(base * 0.0015))  # clear of the 0.2 % boundary
        elif profile == "beyond 0.2 %":
            diff = rng.randint(int(base * 0.003) + 1, int(base * 0.015))  # clear of both boundaries
        else:
            diff = max(1, int(base * rng.uniform(0.05, 0.2)))
        if booked < 0:
            counted = 0
        else:
            counted = booked - diff if rng.random() < 0.5 and booked - diff >= 0 else booked + diff
        self.movement(loc, "CYCLE_COUNT", t, counted,
                      f"CYCLE_COUNT {loc.name} counted {counted} vs booked {booked} ({profile})")
