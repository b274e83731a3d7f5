"""The builders of `faults.FAULT_KINDS`, one per kind (registered on import)."""

from __future__ import annotations

import json

from supplyflow import config, contracts
from testdata.faults import _QTY, _TS, _builder, _canon, _enc, _Faults
from testdata.render import fractional_ea, iso_utc

_OTHER_TYPES = {
    config.PURCHASE_ORDERS: ("PO_DELETED", "po_created", "RECEIPT", ""),
    config.SHIPMENT_EVENTS: ("SHIPPED", "IN_TRANSIT", "delivered"),
    config.INVENTORY_MOVEMENTS: ("SALE", "RETURN", "TRANSFER"),
    config.REORDER_POLICIES: ("POLICY_DELETE", "POLICY_UPDATED"),
}
# event types whose events carry a quantity that must be ≥ 0, with a uom
_QTY_TYPES = ("PO_CREATED", "PO_UPDATED", "DISPATCHED", "ETA_UPDATED", "DELIVERED", "RECEIPT", "ISSUE",
              "TRANSFER_IN", "TRANSFER_OUT", "CYCLE_COUNT")
_FRACTIONS = (1.5, 2.25, 7.1, 0.1, 1.3, 2.3, 0.01, 0.3, 0.001, 0.0001, 12.75, 100.5)


def _required(topic: str) -> list[str]:
    return contracts.load_schema(contracts.INPUT_SCHEMAS[topic])["required"]


# --- INVALID_JSON ----------------------------------------------------------------------------
@_builder("not-json")
def _not_json(f: _Faults):
    topic, ev, key, _ = f.template()
    text = f.rng.choice((
        str(ev),                                               # Python repr: single quotes
        _enc(ev).decode()[:-1] + ",}",                         # trailing comma
        f"<event><id>{ev['event_id']}</id><type>{ev['event_type']}</type></event>",
        ",".join(str(v) for v in ev.values()),                 # a CSV line
        "ERROR 504 upstream timeout while serializing event",
        '{event_id: "' + ev["event_id"] + '", event_type: "' + ev["event_type"] + '"}',  # unquoted keys
    ))
    return topic, key, text.encode(), None, "not JSON: " + text[:30]


@_builder("truncated-json")
def _truncated(f: _Faults):
    topic, ev, key, _ = f.template()
    raw = _enc(ev)
    cut = f.rng.randint(1, len(raw) - 2)
    while raw[cut] & 0xC0 == 0x80:  # cut between characters, so the rest is still UTF-8
        cut -= 1
    return topic, key, raw[:cut], None, f"cut after {cut} of {len(raw)} bytes"


@_builder("non-utf8")
def _non_utf8(f: _Faults):
    topic, ev, key, _ = f.template()
    variant = f.rng.choice(("latin-1", "utf-16", "garbage"))
    if variant == "latin-1":
        ev["source_system"] = "lager-köln"
        raw = json.dumps(ev, ensure_ascii=False).encode("latin-1")
    elif variant == "utf-16":
        raw = b"\xff\xfe" + json.dumps(ev).encode("utf-16-le")  # with its byte-order mark
    else:
        raw = b"\x80" + bytes(f.rng.randrange(256) for _ in range(f.rng.randint(8, 64)))
    return topic, key, raw, None, f"{variant} bytes"


@_builder("empty-value")
def _empty(f: _Faults):
    topic, _, key, _ = f.template()
    return topic, key, b"", None, "empty value"


@_builder("tombstone")
def _tombstone(f: _Faults):
    topic, _, key, _ = f.template(no_compacted=True)  # a tombstone would delete a compacted key
    return topic, key, None, None, "null value (tombstone)"


@_builder("json-array")
def _array(f: _Faults):
    topic, ev, key, _ = f.template()
    raw = f.rng.choice((b"[" + _enc(ev) + b"]", b"[]", _enc([ev, ev])))
    return topic, key, raw, None, f"array of {raw.count(b'event_id')} events"


@_builder("json-scalar")
def _scalar(f: _Faults):
    topic, ev, key, _ = f.template()
    raw = f.rng.choice((b"42", b'"' + ev["event_type"].encode() + b'"', b"true", b"null",
                        json.dumps(_enc(ev).decode()).encode()))  # the event double-encoded as a string
    return topic, key, raw, None, "scalar " + raw[:20].decode()


@_builder("deep-nesting")
def _deep(f: _Faults):
    topic, ev, key, _ = f.template()
    depth = f.rng.choice((2_500, 5_000, 10_000))
    ev["attributes"] = "@@DEEP@@"
    opener, closer = f.rng.choice((("[", "]"), ('{"a":', "}")))
    raw = _enc(ev).replace(b'"@@DEEP@@"', (opener * depth + "1" + closer * depth).encode())
    return topic, key, raw, None, f"attributes nested {depth} deep"


@_builder("nan-literal")
def _nan(f: _Faults):
    topic, ev, key, _ = f.template(types=_QTY_TYPES + ("ADJUSTMENT", "POLICY_SET"))
    field = f.pick_field(ev, _QTY)
    ev[field] = f.rng.choice((float("nan"), float("inf"), float("-inf")))
    return topic, key, json.dumps(ev, separators=(",", ":")).encode(), None, f"{field} = {ev[field]}"


@_builder("duplicate-keys")
def _dup_keys(f: _Faults):
    topic, ev, key, _ = f.template()
    field = f.rng.choice([k for k in ("sku", "quantity", "event_id", "po_id", "shipment_id", "event_type") if k in ev])
    if field in ("sku", "event_id"):
        other = "ZZZ99999" if field == "sku" else f.w.event_id()
    else:
        other = ev[field] + "X" if isinstance(ev[field], str) else 7
    raw = b"{" + _enc({field: other})[1:-1] + b"," + _enc(ev)[1:]
    return topic, key, raw, None, f"{field} twice"


# --- SCHEMA_VIOLATION ------------------------------------------------------------------------
@_builder("missing-field")
def _missing(f: _Faults):
    topic, ev, key, _ = f.template()
    field = f.rng.choice(_required(topic))
    del ev[field]
    return topic, f.key(topic, ev, key), _enc(ev), None, f"no {field}"


@_builder("missing-conditional")
def _missing_conditional(f: _Faults):
    topic, ev, key, _ = f.template(types=("DISPATCHED", "ETA_UPDATED", "PO_CREATED", "PO_UPDATED"))
    field = "eta" if topic == config.SHIPMENT_EVENTS else f.rng.choice(
        ("supplier_id", "warehouse_id", "sku", "ordered_qty", "uom", "promised_delivery_time"))
    del ev[field]
    return topic, f.key(topic, ev, key), _enc(ev), None, f"{ev['event_type']} without {field}"


_WRONG = {
    "ordered_qty": lambda v: str(v), "shipped_qty": lambda v: str(v), "quantity": lambda v: f"{v} EA",
    "po_line": lambda v: str(v), "version": lambda v: str(v), "sku": lambda v: 12345678,
    "warehouse_id": lambda v: 7, "event_id": lambda v: 1234567, "event_time": lambda v: {"ts": v},
    "schema_version": lambda v: "1", "correlation_id": lambda v: 42, "lead_time_days": lambda v: f"{v} days",
    "uom": lambda v: 24, "eta": lambda v: [v], "reorder_point": lambda v: [v], "source_system": lambda v: None,
}


@_builder("wrong-type")
def _wrong_type(f: _Faults):
    topic, ev, key, _ = f.template()
    field = f.pick_field(ev, tuple(_WRONG))
    ev[field] = _WRONG[field](ev[field])
    return topic, f.key(topic, ev, key), _enc(ev), None, f"{field} = {json.dumps(ev[field])[:30]}"


@_builder("boolean-number")
def _boolean(f: _Faults):
    topic, ev, key, _ = f.template()
    field = f.pick_field(ev, _QTY + ("po_line", "version", "lead_time_days"))
    ev[field] = f.rng.choice((True, False))
    return topic, key, _enc(ev), None, f"{field} = {json.dumps(ev[field])}"


@_builder("null-field")
def _null(f: _Faults):
    topic, ev, key, _ = f.template()
    field = f.rng.choice(_required(topic))
    ev[field] = None
    return topic, f.key(topic, ev, key), _enc(ev), None, f"{field} = null"


@_builder("unknown-event-type")
def _unknown_type(f: _Faults):
    topic, ev, key, _ = f.template()
    ev["event_type"] = f.rng.choice(_OTHER_TYPES[topic])
    return topic, key, _enc(ev), None, f"event_type {ev['event_type']!r}"


@_builder("out-of-range-int")
def _int_range(f: _Faults):
    topic, ev, key, _ = f.template(need=("po_line",))
    field = f.rng.choice([x for x in ("po_line", "version", "schema_version") if x in ev])
    ev[field] = f.rng.choice((0, -1, 1.5, 2**31))
    return topic, key, _enc(ev), None, f"{field} = {ev[field]}"


@_builder("huge-number")
def _huge(f: _Faults):
    topic, ev, key, _ = f.template(types=_QTY_TYPES + ("ADJUSTMENT", "POLICY_SET"))
    field = f.pick_field(ev, _QTY)
    ev[field] = "@@HUGE@@"
    # built as text: Python refuses to turn a 5,000-digit int into a string
    digits = str(f.rng.randint(1, 9)) + "".join(f.rng.choice("0123456789") for _ in range(4_999))
    return topic, key, _enc(ev).replace(b'"@@HUGE@@"', digits.encode()), None, f"{field} has 5,000 digits"


# --- INVALID_TIMESTAMP ------------------------------------------------------------------------
@_builder("naive-timestamp")
def _naive(f: _Faults):
    topic, ev, key, t = f.template()
    field = f.pick_field(ev, _TS)
    ev[field] = f.naive(t)
    return topic, key, _enc(ev), None, f"{field} = {ev[field]!r} (no zone)"


def _other_format(t: int) -> str:
    iso = iso_utc(t)
    y, mo, d, hh, mi = iso[0:4], iso[5:7], iso[8:10], iso[11:13], iso[14:16]
    return {"us": f"{mo}/{d}/{y} {hh}:{mi}", "de": f"{d}.{mo}.{y} {hh}:{mi}:00", "date": f"{y}-{mo}-{d}",
            "rfc2822": f"Sun, {d} Oct {y} {hh}:{mi}:00 GMT", "epoch-string": str(t), "empty": "",
            "slashes": f"{y}/{mo}/{d}T{hh}:{mi}:00Z", "words": "tomorrow 10am"}


@_builder("other-date-format")
def _other_date(f: _Faults):
    topic, ev, key, t = f.template()
    field = f.pick_field(ev, _TS)
    name, ev[field] = f.rng.choice(sorted(_other_format(t).items()))
    return topic, key, _enc(ev), None, f"{field} = {ev[field]!r} ({name})"


@_builder("impossible-date")
def _impossible(f: _Faults):
    topic, ev, key, _ = f.template()
    field = f.pick_field(ev, _TS)
    ev[field] = f.rng.choice(("2026-02-30T10:00:00Z", "2026-13-01T00:00:00Z", "2026-10-04T25:00:00Z",
                              "2026-10-32T08:00:00+02:00", "2026-10-04T10:61:00Z"))
    return topic, key, _enc(ev), None, f"{field} = {ev[field]!r}"


# --- INVALID_SKU, UNKNOWN_UOM ----------------------------------------------------------------
def bad_sku(f: _Faults, sku: str) -> str:
    """A spelling of a SKU that does not normalize to 8 of [A-Z0-9]."""
    c = _canon(sku)
    return f.rng.choice((c[:-1], c + "9", f"{c[:3]}/{c[3:]}", "", f"SKU#{c[4:]}", "Ä" + c[1:], f"{c[:3]}-{c[3:]}-X"))


@_builder("bad-sku")
def _bad_sku(f: _Faults):
    topic, ev, key, _ = f.template(need=("sku",))
    ev["sku"] = bad_sku(f, ev["sku"])
    return topic, f.key(topic, ev, key), _enc(ev), None, f"sku {ev['sku']!r}"


_UOMS = ("KG", "BOX", "pcs", "", "PAL", "CASE", "EACH", "CS24")


@_builder("unknown-uom")
def _unknown_uom(f: _Faults):
    topic, ev, key, _ = f.template(need=("uom",))
    ev["uom"] = f.rng.choice(_UOMS)
    return topic, key, _enc(ev), None, f"uom {ev['uom']!r}"


# --- NEGATIVE_QUANTITY, FRACTIONAL_QUANTITY, INVALID_POLICY ------------------------------------
@_builder("negative-quantity")
def _negative(f: _Faults):
    topic, ev, key, _ = f.template(types=_QTY_TYPES + ("POLICY_SET",))
    field = f.pick_field(ev, _QTY)
    ev[field] = -f.rng.randint(1, 50)  # whole in any unit: only the sign is wrong
    return topic, key, _enc(ev), None, f"{ev['event_type']} {field} = {ev[field]}"


@_builder("negative-lead-time")
def _negative_lead(f: _Faults):
    topic, ev, key, _ = f.template(topics=(config.REORDER_POLICIES,))
    ev["lead_time_days"] = -f.rng.choice((1, 2, 0.5))
    return topic, key, _enc(ev), None, f"lead_time_days = {ev['lead_time_days']}"


def fraction_for(f: _Faults, ev: dict, field: str) -> float:
    """A positive quantity that is not whole in EA with the event's unit (policies: EA)."""
    factor = contracts.UOM_FACTORS[ev["uom"].strip().upper()] if "uom" in ev else 1
    return f.rng.choice([q for q in _FRACTIONS if fractional_ea(q, factor)])


@_builder("fractional-quantity")
def _fractional(f: _Faults):
    topic, ev, key, _ = f.template(types=_QTY_TYPES + ("ADJUSTMENT", "POLICY_SET"))
    field = f.pick_field(ev, _QTY)
    ev[field] = fraction_for(f, ev, field)
    if ev["event_type"] == "ADJUSTMENT" and f.rng.random() < 0.5:
        ev[field] = -ev[field]  # signed, and still not whole
    unit = ev.get("uom", "EA (policy)")
    return topic, key, _enc(ev), None, f"{field} = {ev[field]} {unit}"


@_builder("invalid-policy")
def _invalid_policy(f: _Faults):
    topic, ev, key, _ = f.template(topics=(config.REORDER_POLICIES,))
    rp = max(ev["reorder_point"], 2)
    ev["reorder_point"], ev["order_up_to"] = rp, rp - f.rng.randint(1, rp)
    return topic, key, _enc(ev), None, f"order_up_to {ev['order_up_to']} < reorder_point {rp}"


# --- several faults at once: the label is the first code in precedence order -----------------
def _m_missing_naive(f: _Faults):
    topic, ev, key, t = f.template()
    del ev["event_id"]
    ev["event_time"] = f.naive(t)
    return topic, key, _enc(ev), "SCHEMA_VIOLATION", "no event_id + naive event_time"


def _m_naive_sku(f: _Faults):
    topic, ev, key, t = f.template(need=("sku",))
    ev["event_time"], ev["sku"] = f.naive(t), bad_sku(f, ev["sku"])
    return topic, f.key(topic, ev, key), _enc(ev), "INVALID_TIMESTAMP", "naive event_time + bad sku"


def _m_sku_uom_negative(f: _Faults):
    topic, ev, key, _ = f.template(types=_QTY_TYPES)
    field = f.pick_field(ev, _QTY)
    ev["sku"], ev["uom"], ev[field] = bad_sku(f, ev["sku"]), f.rng.choice(_UOMS), -5
    return topic, f.key(topic, ev, key), _enc(ev), "INVALID_SKU", "bad sku + unknown uom + negative quantity"


def _m_uom_negative(f: _Faults):
    topic, ev, key, _ = f.template(types=_QTY_TYPES)
    field = f.pick_field(ev, _QTY)
    ev["uom"], ev[field] = f.rng.choice(_UOMS), -3
    return topic, key, _enc(ev), "UNKNOWN_UOM", "unknown uom + negative quantity"


def _m_negative_fraction(f: _Faults):
    topic, ev, key, _ = f.template(types=_QTY_TYPES)
    field = f.pick_field(ev, _QTY)
    ev["uom"], ev[field] = "EA", -1.5
    return topic, key, _enc(ev), "NEGATIVE_QUANTITY", f"{field} = -1.5 EA (negative and fractional)"


def _m_fraction_policy(f: _Faults):
    topic, ev, key, _ = f.template(topics=(config.REORDER_POLICIES,))
    ev["reorder_point"], ev["order_up_to"] = 100.5, 50
    return topic, key, _enc(ev), "FRACTIONAL_QUANTITY", "reorder_point 100.5 + order_up_to below it"


def _m_negative_policy(f: _Faults):
    topic, ev, key, _ = f.template(topics=(config.REORDER_POLICIES,))
    ev["safety_stock"], ev["reorder_point"], ev["order_up_to"] = -10, 200, 100
    return topic, key, _enc(ev), "NEGATIVE_QUANTITY", "safety_stock -10 + order_up_to below reorder_point"


def _m_dup_wrong_type(f: _Faults):
    topic, ev, key, _ = f.template()
    return topic, key, b'{"event_type":123,' + _enc(ev)[1:], "INVALID_JSON", "event_type twice, once a number"


def _m_uom_type_sku(f: _Faults):
    topic, ev, key, _ = f.template(need=("sku", "uom"))
    ev["uom"], ev["sku"] = 24, bad_sku(f, ev["sku"])
    return topic, f.key(topic, ev, key), _enc(ev), "SCHEMA_VIOLATION", "uom a number + bad sku"


def _m_type_naive(f: _Faults):
    topic, ev, key, t = f.template()
    ev["event_type"], ev["event_time"] = f.rng.choice(_OTHER_TYPES[topic]), f.naive(t)
    return topic, key, _enc(ev), "SCHEMA_VIOLATION", "unknown event_type + naive event_time"


def _m_date_uom(f: _Faults):
    topic, ev, key, _ = f.template(need=("uom",))
    ev["event_time"], ev["uom"] = "2026-02-30T10:00:00Z", "KG"
    return topic, key, _enc(ev), "INVALID_TIMESTAMP", "impossible event_time + unknown uom"


def _m_sku_fraction(f: _Faults):
    topic, ev, key, _ = f.template(types=_QTY_TYPES)
    field = f.pick_field(ev, _QTY)
    ev["sku"], ev["uom"], ev[field] = bad_sku(f, ev["sku"]), "EA", 2.5
    return topic, f.key(topic, ev, key), _enc(ev), "INVALID_SKU", "bad sku + 2.5 EA"


_COMBOS = (_m_missing_naive, _m_naive_sku, _m_sku_uom_negative, _m_uom_negative, _m_negative_fraction,
           _m_fraction_policy, _m_negative_policy, _m_dup_wrong_type, _m_uom_type_sku, _m_type_naive,
           _m_date_uom, _m_sku_fraction)


@_builder("multi-fault")
def _multi(f: _Faults):
    combo = _COMBOS[f.multi % len(_COMBOS)]  # in turn, so every combination appears
    f.multi += 1
    return combo(f)
